"""The catalogue of bad inputs that are refused before a run starts (README, Troubleshooting).

Each is refused through the command line with one paragraph naming what is wrong and what
is allowed, exit 2 and no traceback (``conftest.refuse``), and leaves no MLflow run behind.
Those refused once a run has started are in test_bad_runs.py.
"""

import importlib.util
import shutil

import pytest

from conftest import refuse

# id: (overrides, with {tmp} for the test's own folder; phrases the paragraph holds; extra env)
CASES = {
    "unknown key": (["fit.epoch=3"], ["unknown key 'fit.epoch'", "did you mean epochs?", "fit takes: epochs"], {}),
    "misspelt Keras argument": (
        ["+optimizer.use_emma=true"],
        ["optimizer.use_emma is not a keyword argument of keras.optimizers.Adam", "did you mean use_ema?"],
        {},
    ),
    "an argument ktrain passes itself": (
        ["+fit.callbacks=[]"],
        ["fit.callbacks cannot be set", "ktrain gives keras.Model.fit its callbacks itself, from callbacks.*"],
        {},
    ),
    "a value the override grammar cannot read": (
        ["data.path=my data/café"],
        [
            "data.path=my data/café is not a value Hydra's override grammar can read",
            "An unquoted value may hold letters",
            "quoted, keeping the quotes from the shell: 'data.path=\"my data/café\"'",
        ],
        {},
    ),  # fmt: skip
    "several steps per call under TensorFlow's MirroredStrategy": (
        ["hardware.strategy=mirrored", "hardware.cpu_devices=2", "compile.steps_per_execution=8"],
        ["compile.steps_per_execution=8 is not available with hardware.strategy=mirrored on the TensorFlow backend"],
        {},
    ),
    "unknown group option": (["model=resnet51"], ["model=resnet51 is not an option of model", "resnet50"], {}),
    "an experiment of your own without your config folder": (
        ["experiment=mine"],
        [
            "experiment=mine is not an option of experiment (allowed: caltech101_resnet50",
            "No config folder of your own was found (./conf, or --config-dir DIR).",
        ],
        {},
    ),  # fmt: skip
    "unknown group option in a list": (
        ["callbacks=[default,tensorbord]"],
        ["callbacks=tensorbord is not an option of callbacks (allowed: csv_logger, default,", "tensorboard"],
        {},
    ),
    "deleting a key the config lacks": (
        ["~callbacks.reduce_lrr"],
        [
            "~callbacks.reduce_lrr deletes callbacks.reduce_lrr, which the composed config does not have (did you "
            "mean ~callbacks.reduce_lr?)"
        ],
        {},
    ),  # fmt: skip
    "wrong type": (["fit.epochs=three"], ["fit.epochs='three'", "integer"], {}),
    "out-of-range value": (["optimizer.learning_rate=-0.1"], ["optimizer.learning_rate=-0.1", "greater than 0"], {}),
    "missing data.path": (["data=image_folder"], ["data.path is required", "give data.path=<a folder"], {}),
    "empty folder": (["data=image_folder", "data.path={tmp}/empty"], ["holds no class subfolders"], {}),
    "a single class": (
        ["data=image_folder", "data.path={tmp}/one_class"],
        ["one class folder (cats)", "at least two"],
        {},
    ),
    "unreachable tracking server": (
        ["mlflow.tracking_uri=http://127.0.0.1:9"],
        ["mlflow.tracking_uri=http://127.0.0.1:9 does not answer", "mlflow server"],
        {},
    ),
    "tracking URI of an unsupported scheme": (
        ["mlflow.tracking_uri=ftp://x"],
        ["mlflow.tracking_uri=ftp://x", "no store of the scheme 'ftp'", "sqlite:///"],
        {},
    ),
    "database driver not installed": (
        ["mlflow.tracking_uri=postgresql+pg8000://mlflow@127.0.0.1:9/mlflow"],
        ["needs the Python database driver 'pg8000', which is not installed: pip install 'pg8000'"],
        {},
    ),
    "a database that does not answer": (
        ["mlflow.tracking_uri=postgresql://mlflow@127.0.0.1:9/mlflow"],
        ["mlflow.tracking_uri=postgresql://mlflow@127.0.0.1:9/mlflow: no database answers at 127.0.0.1:9"],
        {},
    ),
    "-m with --cfg": (["-m", "hparams_search=optuna", "--cfg", "hydra"], ["-m and --cfg cannot be given together"], {}),
    "unwritable output dir": (["hydra.run.dir={tmp}/a_file/run"], ["cannot use", "a_file/run", "hydra.run.dir="], {}),
    "resume of a dir that is not a run": (["resume={tmp}/empty"], ["is not a ktrain run dir"], {}),
    "invalid TF_CONFIG": (["hardware=multi_worker"], ["TF_CONFIG is not JSON"], {"TF_CONFIG": "{cluster:"}),
    "GPU config without GPUs": (["hardware=gpu"], ["hardware=gpu needs", "GPUs found: 0", "hardware=cpu"], {}),
    "search space naming an unknown key": (
        ["-m", "hparams_search=optuna", "optimizer.learnin_rate=interval(1e-4,1e-1)", "hydra.sweep.dir={tmp}/sweep"],
        ["Invalid search space", "unknown key 'optimizer.learnin_rate'", "did you mean learning_rate?"],
        {},
    ),
    "empty choice in the search space": (
        ["-m", "hparams_search=optuna", "hydra.sweeper.params.schedule='choice()'", "hydra.sweep.dir={tmp}/sweep"],
        ["Invalid search space: schedule=choice()", "empty choice", "at least one value"],
        {},
    ),
    "a pruner without -m": (["hparams_search=optuna"], ["its pruner (MedianPruner) needs a sweep", "Add -m"], {}),
    "YAML syntax error in a config file of your own": (
        ["--config-dir", "{tmp}/conf", "model=broken"],
        [
            "conf/model/broken.yaml is not valid YAML: line 3, column 8: expected ',' or ']', but got ':'",
            "while parsing a flow sequence at line 2, column 15",
        ],
        {},
    ),  # fmt: skip
    "KERAS_BACKEND=jax without JAX": (
        ["fit.epochs=1"],
        [
            "KERAS_BACKEND=jax runs Keras on JAX, and jax, jaxlib are not installed here",
            "pip install 'ktrain-hydra[jax]'",
        ],
        {"KERAS_BACKEND": "jax", "HIDDEN_MODULES": "jax,jaxlib", "script": "tests/no_tensorflow.py"},
    ),  # fmt: skip
    "a multi-worker run on JAX, without TF_CONFIG": (
        ["hardware=multi_worker"],
        ["hardware=multi_worker (MultiWorkerMirroredStrategy over TF_CONFIG) is not available on the jax backend"],
        {"KERAS_BACKEND": "jax"},
    ),
    "a batch that JAX cannot split evenly across replicas": (
        ["hardware.strategy=mirrored", "hardware.cpu_devices=3", "data.batch_size=32", "fit.epochs=1"],
        ["data.batch_size=32 does not divide across the 3 replicas", "for example data.batch_size=30"],
        {"KERAS_BACKEND": "jax"},
    ),
    "a .npy file for data=npz": (
        ["data=npz", "data.path={tmp}/one_array.npy", "model=mlp"],
        ["data.path=", "is not an .npz file", "np.savez('data.npz', x=x, y=y)"],
        {},
    ),
    "the slurm launcher where SLURM is not": (
        ["-m", "hydra/launcher=slurm", "optimizer=adam,sgd", "hydra.sweep.dir={tmp}/sweep"],
        ["hydra/launcher=slurm submits each job with SLURM's sbatch, which is not on this machine's PATH"],
        {},
    ),
    "the ray launcher without its plugin": (
        ["-m", "hydra/launcher=ray", "optimizer=adam,sgd", "hydra.sweep.dir={tmp}/sweep"],
        ["hydra/launcher=ray runs the jobs through hydra_plugins.hydra_ray_launcher", "pip install 'ktrain-hydra[ray]"],
        {},
    ),
    "a sweep value that is not an option": (
        ["-m", "model=resnet51,mlp", "hydra.sweep.dir={tmp}/sweep"],
        ["model=resnet51 is not an option of model (allowed: backbone,"],
        {},
    ),
    "a later sweep value that is not an option": (
        ["-m", "model=mlp,resnet51", "hydra.sweep.dir={tmp}/sweep"],
        ["model=resnet51 is not an option of model (allowed: backbone,"],
        {},
    ),
    "a deleted MLflow experiment": (
        ["fit.epochs=1"],
        [
            "the MLflow experiment 'deleted-experiment'",
            "was deleted",
            "mlflow experiments restore --experiment-id",
            "mlflow.experiment_name=<name>",
        ],
        {"MLFLOW_EXPERIMENT_NAME": "deleted-experiment"},
    ),  # fmt: skip
    "a sweep whose every job is refused": (
        ["-m", "fit.epochs=-1", "optimizer.learning_rate=1e-2,1e-3", "hydra.sweep.dir={tmp}/sweep"],
        [
            "every job of this sweep would be refused (2 checked)",
            "no MLflow run was made",
            "fit.epochs=-1: input should be greater than or equal to 1",
        ],
        {},
    ),  # fmt: skip
    "a registry on the plain file store": (
        ["mlflow.register=digits", "mlflow.tracking_uri=file://{tmp}/mlruns"],
        [
            "mlflow.register=digits: the tracking store file://",
            "plain file store, which has no model registry",
            "sqlite:///outputs/mlflow.db",
        ],
        {},
    ),  # fmt: skip
    "registering without a logged model": (
        ["mlflow.register=digits", "mlflow.log_model=false"],
        ["mlflow.register=digits registers the run's final model, and mlflow.log_model=false logs none"],
        {},
    ),
    "a registry alias MLflow reads as a version": (
        ["mlflow.register=digits", "mlflow.register_alias=v2"],
        ["mlflow.register_alias='v2'", "not latest, nor v<number>"],
        {},
    ),
    "export without its converter": (
        ["run={tmp}", "format=[saved_model,onnx]"],
        ["format=onnx needs onnxruntime: pip install 'ktrain-hydra[onnx]'", "Nothing was exported"],
        {"HIDDEN_MODULES": "onnxruntime", "SCRIPT": "export.py", "script": "tests/no_tensorflow.py"},
    ),
    "unwritable study storage": (
        ["-m", "hparams_search=optuna", "hydra.sweeper.storage={tmp}/a_file/study.journal", "hydra.sweep.dir={tmp}/s"],
        ["hydra.sweeper.storage=", "a_file is not a folder", "optuna.journal beside the MLflow store"],
        {},
    ),
}


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "one_class" / "cats").mkdir(parents=True)
    (tmp_path / "one_class" / "cats" / "a.jpg").write_bytes(b"")
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "one_array.npy").write_bytes(b"\x93NUMPY\x01\x00")  # np.save's magic: one array, not a zip
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "broken.yaml").write_text(
        "_target_: ktrain.models.small.mlp\nhidden_units: [16\ndropout: 0.1\n"
    )
    return tmp_path


@pytest.mark.parametrize("case", CASES)
def test_a_bad_input_is_refused_in_one_paragraph_before_any_run(case, bad_files, tmp_path, tracking_uri, client):
    overrides, phrases, env = CASES[case]
    if case == "a deleted MLflow experiment" and client.get_experiment_by_name("deleted-experiment") is None:
        client.delete_experiment(client.create_experiment("deleted-experiment"))
    if case == "the slurm launcher where SLURM is not" and shutil.which("sbatch"):
        pytest.skip("this machine has SLURM")
    if case == "the ray launcher without its plugin" and importlib.util.find_spec("hydra_plugins.hydra_ray_launcher"):
        pytest.skip("hydra-ray-launcher is installed")
    if case == "GPU config without GPUs":
        tensorflow = pytest.importorskip("tensorflow")
        if tensorflow.config.list_physical_devices("GPU"):
            pytest.skip("this machine has a GPU")
    args = [arg.format(tmp=bad_files) for arg in overrides]
    if not any(arg.startswith("hydra.run.dir=") for arg in args):
        args.append(f"hydra.run.dir={tmp_path / 'run'}")
    paragraph, output = refuse(tracking_uri, *args, **env)
    for phrase in phrases:
        assert phrase in paragraph, paragraph
    assert "mlflow: run" not in output and "mlflow: sweep run" not in output
    assert "Warning" not in output, output  # such as Hydra's, on a callback that raised
