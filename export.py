"""Export a trained run's model: python export.py run=<run dir | MLflow run id | models:/name@alias>
format=[saved_model,onnx,litert]. See README.md. The same as the installed ``ktrain-export`` command.
"""

from ktrain.cli.export import main

if __name__ == "__main__":
    main()
