"""A sweep's jobs on JAX share what XLA compiled: JAX's persistent compilation cache, under
ktrain's cache dir, turned on for every job of a sweep."""

import pytest

from conftest import run_sweep


@pytest.mark.slow
def test_a_sweeps_jobs_on_jax_keep_their_compilations_in_the_persistent_cache(tracking_uri, tmp_path):
    pytest.importorskip("jax")
    cache = tmp_path / "ktrain-cache"
    sweep = run_sweep(
        tracking_uri,
        tmp_path / "sweep",
        "model=mlp",
        "seed=1,2",
        KERAS_BACKEND="jax",
        KTRAIN_CACHE_DIR=str(cache),
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",  # the tiny model's compilations too
    )
    assert sweep.returncode == 0, sweep.output[-3000:]
    compiled = list((cache / "jax_compilation").iterdir())
    assert any(path.name.startswith("jit_") for path in compiled), compiled
