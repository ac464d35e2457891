"""model=keras_hub from tiny, randomly initialised presets that KerasHub's own save_to_preset
writes into a temporary folder (nothing is downloaded): an image preset and a text preset
fine-tune, predict through ktrain-predict and serve raw pixels and strings through mlflow.pyfunc
(slow: a run each); the preset's identity is recorded; a preset neither cached nor reachable, of
the wrong kind, or without KerasHub installed is refused in one paragraph before training, and
what is no preset at all (a folder without config.json, a malformed handle) before it is looked for."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import Run, python_elsewhere, refuse, run_train
from images import make_image_folder
from test_fine_tune import OFFLINE
from test_tasks import predicted
from test_text_folder import FILLER, WORDS, reviews_folder

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

PRESETS = """
import sys
from pathlib import Path

import keras
import keras_hub

folder, words = Path(sys.argv[1]), sys.argv[2].split()
keras.utils.set_random_seed(0)
resnet = keras_hub.models.ResNetBackbone(
    input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 16],
    stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
    use_pre_activation=False, image_shape=(None, None, 3),
)
converter = keras_hub.layers.ResNetImageConverter(image_size=(32, 32), scale=1 / 255.0)
preprocessor = keras_hub.models.ResNetImageClassifierPreprocessor(image_converter=converter)
keras_hub.models.ResNetImageClassifier(resnet, 5, preprocessor=preprocessor).save_to_preset(folder / "image")
resnet.save_to_preset(folder / "image_backbone")  # a backbone alone: no image converter
tokenizer = keras_hub.models.BertTokenizer(vocabulary=words)
preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=24)
bert = keras_hub.models.BertBackbone(
    vocabulary_size=len(words), num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=24
)
keras_hub.models.BertTextClassifier(bert, 5, preprocessor=preprocessor).save_to_preset(folder / "text")
keras_hub.models.GPT2Backbone(  # a family KerasHub makes no classifier of
    vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16, max_sequence_length=16
).save_to_preset(folder / "gpt2_backbone")
"""


@pytest.fixture(scope="module")
def presets(tmp_path_factory) -> Path:
    """The tiny presets, written by save_to_preset in a process of their own."""
    folder = tmp_path_factory.mktemp("presets")
    words = " ".join(SPECIALS + sorted({*FILLER, *(w for group in WORDS.values() for w in group)}))
    process = subprocess.run(
        [sys.executable, "-c", PRESETS, str(folder), words], capture_output=True, text=True, timeout=300
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    images = make_image_folder(tmp_path_factory.mktemp("shapes"), 20, seed=0)
    return {"image": images, "gray": images, "text": reviews_folder(tmp_path_factory.mktemp("reviews"))}


DATA = {"image": ["data=image_folder", "data.image_size=[32,32]"], "text": ["data=text_folder"]}
DATA["gray"] = [*DATA["image"], "data.color_mode=grayscale"]
# A transformer from scratch needs the larger rate to learn the reviews in a few epochs (measured: 1e-2 by the
# 5th epoch, 3e-3 not by the 8th); the ResNet learns the shapes at 3e-3.
TRAINING = {
    "image": ["fit.epochs=6", "optimizer.learning_rate=0.003"],
    "text": ["fit.epochs=8", "optimizer.learning_rate=0.01"],
}

PYFUNC = """
import json, sys
import mlflow
import numpy as np

mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(f"runs:/{sys.argv[2]}/model")
inputs = json.loads(sys.argv[3]) if sys.argv[4] == "text" else np.load(sys.argv[3])
print(json.dumps(np.asarray(model.predict(inputs)).tolist()))
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["image", "text"])
def test_a_preset_fine_tunes_records_its_identity_predicts_and_serves_raw_input(
    kind, presets, data, tracking_uri, client, tmp_path, caplog
):
    from ktrain.models.presets import Located, identity

    preset = presets / kind
    run = run_train(
        tracking_uri,
        tmp_path / "run",
        *DATA[kind],
        f"data.path={data[kind]}",
        "model=keras_hub",
        f"model.preset={preset}",
        *TRAINING[kind],
        "data.batch_size=16",
    )
    recorded = client.get_run(run.run_id)
    assert recorded.info.status == "FINISHED"
    found = identity(Located(str(preset), str(preset)))
    assert recorded.data.params["model.found.preset_digest"] == found["preset_digest"]
    assert (
        recorded.data.params["model.found.preset_class"]
        == {"image": "keras_hub>ResNetBackbone", "text": "keras_hub>BertBackbone"}[kind]
    )
    assert recorded.data.tags["ktrain.preset"] == str(preset)
    assert recorded.data.tags["ktrain.preset.digest"] == found["preset_digest"]
    assert recorded.data.metrics["accuracy"] >= 0.6  # the last epoch's, on data it learns
    if kind == "image":
        inputs = str(run.run_dir / "sample_inputs.npy")  # raw pixels in [0, 255]
        rows = predicted(tracking_uri, run, inputs, tmp_path)
        served = np.array(python_elsewhere(tracking_uri, tmp_path, PYFUNC, run.run_id, inputs, kind))
        classes = json.loads((run.run_dir / "class_names.json").read_text())
        assert [row["label"] for row in rows] == [classes[i] for i in served.argmax(axis=1)]
    else:
        texts = ["a great and wonderful film", "boring plot, i hated it", "superb"]
        table = tmp_path / "texts.csv"
        table.write_text("text\n" + "\n".join(texts) + "\n")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rows = predicted(tracking_uri, run, table, tmp_path, "column=text")
        # Neither Keras on the optimizer an uncompiled task keeps nor grain on KerasHub's read-ahead.
        assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
        assert "num_threads" not in caplog.text
        served = np.array(python_elsewhere(tracking_uri, tmp_path, PYFUNC, run.run_id, json.dumps(texts), kind))
    np.testing.assert_allclose(served.max(axis=1), [float(row["score"]) for row in rows], atol=1e-5)
    # The formats hold a model's call, which a KerasHub task makes without its preprocessor.
    message, output = refuse(tracking_uri, f"run={run.run_dir}", "format=[saved_model]", script="export.py")
    assert "Warning" not in output
    task = {"image": "ResNetImageClassifier", "text": "BertTextClassifier"}[kind]
    assert f"The run's model is a KerasHub task ({task}) whose preprocessor" in message, message
    assert "mlflow models serve -m runs:/<run id>/model" in message and "Nothing was exported" in message


def test_the_identity_is_a_digest_of_the_files_each_read_once(presets, tmp_path):
    import shutil

    from ktrain.data.checked_files import FileRecord
    from ktrain.models.presets import identity, locate

    copy = shutil.copytree(presets / "text", tmp_path / "text")
    first = identity(locate(str(copy)))
    assert first == identity(locate(str(copy)))
    files = [str(path) for path in sorted(copy.rglob("*")) if path.is_file()]
    _, computed = FileRecord(str(copy), "preset_digests").values(files, lambda unknown: dict.fromkeys(unknown, ""))
    assert computed == 0  # every file's checksum known from the first look
    (copy / "metadata.json").write_text((copy / "metadata.json").read_text() + " ")
    assert identity(locate(str(copy)))["preset_digest"] != first["preset_digest"]


REFUSED = {  # case: (data, preset, environment, what the paragraph says)
    "a preset name neither cached nor reachable": (
        "text",
        "bert_tiny_en_uncased",
        OFFLINE,
        [
            "model.preset='bert_tiny_en_uncased' (kaggle://keras/bert/keras/bert_tiny_en_uncased/",
            "is not in kagglehub's cache and cannot be downloaded from https://www.kaggle.com",
            "put the folder it gives at {kaggle}/models/keras/bert/keras/bert_tiny_en_uncased/",
        ],
    ),
    "a Hugging Face handle neither cached nor reachable": (
        "text",
        "hf://keras/bert_tiny_en_uncased",
        OFFLINE,
        ["is not in Hugging Face's cache ({hf}/hub)", "hf download --local-dir DIR"],
    ),
    "a text preset on images": (
        "image",
        "{presets}/text",
        {},
        ["holds a text model (BertBackbone, which KerasHub makes a TextClassifier of), and the data are images"],
    ),
    "a backbone without a classifier": (
        "text",
        "{presets}/gpt2_backbone",
        {},
        ["holds a GPT2Backbone, which KerasHub has no image or text classifier for (a backbone only)"],
    ),
    "a backbone without its preprocessor": (
        "image",
        "{presets}/image_backbone",
        {},
        ["cannot make an ImageClassifier: `image_converter.json` doesn't exist", "saved from a backbone alone"],
    ),
    "grayscale images": (
        "gray",
        "{presets}/image",
        {},
        ["model=keras_hub takes RGB images (data=image_folder, data.color_mode=rgb) or text", "(32, 32, 1)"],
    ),
    "KerasHub not installed": (
        "text",
        "{presets}/text",
        {"HIDDEN_MODULES": "keras_hub", "script": "tests/no_tensorflow.py"},
        ["model=keras_hub needs KerasHub", "pip install 'ktrain-hydra[keras_hub]'"],
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_preset_that_cannot_be_had_or_does_not_fit_the_data_is_refused_before_training(
    case, presets, data, tracking_uri, client, tmp_path
):
    kind, preset, environment, expected = REFUSED[case]
    caches = {"kaggle": tmp_path / "kagglehub", "hf": tmp_path / "huggingface", "presets": presets}
    environment = {**environment, "KAGGLEHUB_CACHE": str(caches["kaggle"]), "HF_HOME": str(caches["hf"])}
    run_dir = tmp_path / "run"
    message, output = refuse(
        tracking_uri,
        *DATA[kind],
        f"data.path={data[kind]}",
        "model=keras_hub",
        f"model.preset={preset.format(**caches)}",
        "fit.epochs=2",
        f"hydra.run.dir={run_dir}",
        **environment,
    )
    for part in expected:
        assert part.format(**caches) in message, message
    assert "Epoch 1/" not in output
    assert client.get_run(Run(2, output, "", run_dir).run_id).info.status == "FAILED"


NOT_PRESETS = {  # case: (model.preset, what the paragraph says); none of these asks a hub
    "a folder without config.json": ("{tmp}", "is a folder without config.json, not a KerasHub preset"),
    "no such folder": ("{tmp}/missing", ": no such folder"),
    "a scheme ktrain does not read": ("s3://bucket/bert", "ktrain reads no s3:// handles"),
    "a name KerasHub does not list": ("bert_tiniest_en", "is not a KerasHub preset name, a handle or a folder"),
    "a Kaggle handle of too few parts": ("kaggle://keras/bert", "is not a Kaggle model handle"),
    "a Hugging Face handle of bad characters": ("hf://keras/bert tiny!", "is not a Hugging Face handle"),
}


@pytest.mark.parametrize("case", NOT_PRESETS)
def test_what_is_no_preset_is_refused_with_the_forms_a_preset_takes(case, tmp_path):
    # locate() is what the run calls first (the form of its paragraph on the command line is checked above)
    from ktrain.errors import UserError
    from ktrain.models.presets import locate

    preset, expected = NOT_PRESETS[case]
    with pytest.raises(UserError) as refused:
        locate(preset.format(tmp=tmp_path))
    assert expected in str(refused.value) and "a local folder that save_to_preset wrote" in str(refused.value)
