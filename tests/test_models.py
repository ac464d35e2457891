"""Model builders: backbones on the default data, and preprocessing that matches keras.applications."""

import numpy as np
import pytest


# Slow: two keras.applications backbones built and trained (about 40 s); .ci/run runs them after the suite.
@pytest.mark.slow
@pytest.mark.parametrize(
    "model, optimizer, extra",
    [
        # Eager steps: tracing ResNet50's train step takes a minute on a small CPU.
        ("resnet50", "adam", ["compile.run_eagerly=true"]),
        ("vgg16", "sgd", []),
    ],
)
def test_backbone_smoke_run_on_digits(train, client, model, optimizer, extra):
    run = train(
        f"model={model}",
        f"optimizer={optimizer}",
        "fit.steps_per_epoch=2",
        "fit.epochs=1",
        "fit.validation_steps=2",
        "mlflow.log_model=false",
        *extra,
    )
    out = run.stdout + run.stderr
    assert "resizing 8x8 inputs to 32x32 inside the model" in out
    assert "repeating the grayscale channel" in out
    recorded = client.get_run(run.run_id)
    assert recorded.info.status == "FINISHED"
    assert recorded.data.params["model"] == model
    assert recorded.data.params["optimizer.name"] == optimizer
    assert "test_accuracy" in recorded.data.metrics
    assert (run.run_dir / "model.keras").exists()


@pytest.mark.parametrize(
    "architecture, module",
    [("ResNet50", "resnet50"), ("VGG16", "vgg16"), ("MobileNetV2", "mobilenet_v2"), ("DenseNet121", "densenet")],
)
def test_in_model_preprocessing_equals_keras_applications(architecture, module):
    import keras

    from ktrain.models import BACKBONES
    from ktrain.models.layers import preprocess

    pixels = np.random.default_rng(0).uniform(0, 255, size=(2, 4, 4, 3)).astype("float32")
    inputs = keras.Input((4, 4, 3))
    ours = keras.Model(inputs, preprocess(inputs, BACKBONES[architecture].preprocessing))
    expected = getattr(keras.applications, module).preprocess_input(pixels.copy())
    np.testing.assert_allclose(ours.predict(pixels, verbose=0), expected, rtol=1e-5, atol=1e-3)


def test_backbone_saves_and_loads_in_safe_mode(tmp_path):
    import keras

    from ktrain.models.backbone import backbone

    model = backbone((8, 8, 1), 3, "MobileNetV2")
    pixels = np.random.default_rng(0).uniform(0, 255, size=(2, 8, 8, 1)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(pixels, verbose=0), model.predict(pixels, verbose=0), rtol=1e-5)
    assert model.output_shape == (None, 3)


def test_convolutional_models_refuse_non_image_data():
    from ktrain.errors import UserError
    from ktrain.models.small import simple_cnn

    with pytest.raises(UserError, match=r"model=simple_cnn needs image inputs .* use model=mlp"):
        simple_cnn((64,), 10)


def test_a_mask_needs_a_unet_and_a_unet_needs_masks_of_a_size_it_halves():
    from ktrain.errors import UserError
    from ktrain.models.small import mlp, simple_cnn
    from ktrain.models.unet import unet
    from ktrain.tasks import Target

    mask = (Target("label", "mask", (16, 16), classes=("background", "object")),)
    assert unet((16, 16, 1), targets=mask, filters=(8, 16)).output_shape == (None, 16, 16, 2)
    with pytest.raises(UserError, match=r"model=unet halves the image 2 times .* divide by 4; the data give 18x18"):
        unet((18, 18, 1), targets=mask, filters=(8, 16))
    with pytest.raises(UserError, match="model=unet predicts masks"):
        unet((16, 16, 1), 10)
    for builder in (simple_cnn, mlp):
        with pytest.raises(UserError, match="which needs a model that keeps the image's height and width"):
            builder((16, 16, 1), targets=mask)
