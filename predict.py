"""Predict with a trained run: python predict.py run=<run dir | MLflow run id> input=<image | folder | .npy>.
See README.md. The same as the installed ``ktrain-predict`` command.
"""

from ktrain.cli.predict import main

if __name__ == "__main__":
    main()
