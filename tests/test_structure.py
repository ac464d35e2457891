"""The shape of the package: a run saved by an earlier layout resumes, the validated config is
frozen, tracking/ speaks to MLflow only, and no two classes share a name."""

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, script_env

FIXTURE = ROOT / "tests" / "fixtures" / "run_before_packages"


def test_a_run_saved_before_the_package_layout_resumes(tracking_uri, client, tmp_path):
    """The fixture is a run dir that ktrain wrote when its modules lay loose in ``ktrain/``
    (its config names ``ktrain.data.arrays.DigitsData``, ``ktrain.models.small.mlp``,
    ``ktrain.schedules.constant`` and ``ktrain.callbacks.ModelCheckpoint``), with the backup of
    its one epoch. Resumed with more epochs, it restores that backup and trains on."""
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE, run_dir)
    experiment = client.get_experiment_by_name("ktrain") or client.get_experiment(client.create_experiment("ktrain"))
    run = client.create_run(experiment.experiment_id, run_name="saved before the packages")
    client.set_terminated(run.info.run_id, "FINISHED")
    record = {"run_id": run.info.run_id, "tracking_uri": tracking_uri, "experiment_id": experiment.experiment_id}
    (run_dir / "mlflow_run.json").write_text(json.dumps(record))

    process = subprocess.run(
        [sys.executable, "train.py", f"resume={run_dir}", "fit.epochs=2"],
        cwd=ROOT,
        env=script_env(tracking_uri),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-4000:]
    assert "restored weights, optimizer state and callbacks from the backup of epoch 1" in output
    assert "continuing at epoch 2 of 2" in output
    assert client.get_run(run.info.run_id).info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")] == [0, 1]
    assert (run_dir / "model.keras").is_file()


def test_the_validated_config_is_frozen():
    """A derived value makes a new config (``ktrain.schema.derive``); nothing edits one in place."""
    import pytest
    from pydantic import ValidationError

    from ktrain import schema
    from ktrain.schema import derive
    from test_config import composed

    config = schema.validate(composed())
    with pytest.raises(ValidationError, match="frozen"):
        config.fit.epochs = 3
    with pytest.raises(ValidationError, match="frozen"):
        config.seed = 1
    with pytest.raises(TypeError):
        config.optimizer["learning_rate"] = 0.1
    with pytest.raises(TypeError):
        config.callbacks["early_stopping"] = None
    derived = derive.learning_rate(config, 0.5)
    assert (derived.optimizer.learning_rate, config.optimizer.learning_rate) == (0.5, 0.001)
    assert derived.option("model") == config.option("model") == "simple_cnn"


def _imports(path: Path) -> set[str]:
    """The ktrain modules a file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ktrain"):
            found |= {node.module} if node.module != "ktrain" else {f"ktrain.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("ktrain")}
    return found


def test_tracking_imports_nothing_of_ktrain_but_itself_names_and_errors():
    allowed = ("ktrain.tracking", "ktrain.names", "ktrain.errors")
    outside = {
        f"{path.name}: {module}"
        for path in (ROOT / "ktrain" / "tracking").glob("*.py")
        for module in _imports(path)
        if not module.startswith(allowed)
    }
    assert not outside


def test_no_two_classes_of_the_package_share_a_name():
    seen: dict[str, list[str]] = {}
    for path in (ROOT / "ktrain").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                seen.setdefault(node.name, []).append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}


def test_few_modules_lie_loose_beside_the_packages():
    loose = sorted(path.name for path in (ROOT / "ktrain").glob("*.py") if path.name != "__init__.py")
    assert len(loose) <= 8, loose
