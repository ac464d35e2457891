"""Write ktrain/schema/keras_signatures.json from the installed Keras.

    python scripts/keras_signatures.py

Run it after upgrading Keras, and commit the file: config validation reads it instead of
importing Keras (ktrain/schema/keras_signatures.py says what it holds), and
tests/test_keras_signatures.py fails while it differs from what the installed Keras gives.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # ktrain from this checkout

from ktrain.schema.keras_signatures import PATH, generate, render

if __name__ == "__main__":
    data = generate()
    PATH.write_text(render(data))
    print(f"{PATH}: {len(data['signatures'])} targets of Keras {data['keras_version']}")
