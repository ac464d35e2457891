"""callbacks=[default,tensorboard]: Keras' TensorBoard callback writes its event files in the run
dir, and where the tensorboard package is missing the run is refused before it starts."""

import pytest

from conftest import refuse


@pytest.mark.slow  # a run of its own (about 8 s), kept out of the 10-minute suite
def test_the_callback_writes_its_event_files_in_the_run_dir(train):
    run = train("callbacks=[default,tensorboard]", "fit.epochs=1", "mlflow.log_model=false")
    for split in ("train", "validation"):
        assert list((run.run_dir / "tensorboard" / split).glob("events.out.tfevents.*")), split


def test_without_tensorboard_installed_the_callback_is_refused_naming_the_extra(tracking_uri):
    # Keras' callback failed at its first summary, after an epoch, in a TBNotInstalledError traceback.
    message, _ = refuse(
        tracking_uri, "callbacks=[default,tensorboard]", script="tests/no_tensorflow.py", HIDDEN_MODULES="tensorboard"
    )
    assert "needs the tensorboard package, which is not installed here" in message
    assert "pip install 'ktrain-hydra[tensorboard]'" in message
