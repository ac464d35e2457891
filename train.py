"""Train a Keras model: python train.py [group=option ...] [key=value ...]. See README.md.

The same as the installed ``ktrain-train`` command.
"""

from ktrain.cli.train import main

if __name__ == "__main__":
    main()
