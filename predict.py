"""Predict with a trained run: python predict.py run=<run dir | MLflow run id> input=<image | folder | .npy>.
See README.md."""

from ktrain import cli, predict


@cli.main(config_name="predict")
def main(cfg):
    predict.run(cfg)


if __name__ == "__main__":
    main()
