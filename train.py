"""Train a Keras model: python train.py [group=option ...] [key=value ...]. See README.md."""

from ktrain import cli, train


@cli.main(config_name="train")
def main(cfg):
    return train.run(cfg)


if __name__ == "__main__":
    main()
