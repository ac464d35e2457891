"""Trials of the execution probe: the run's model, built under one candidate setting, trained
a few real steps on the run's first batches, and timed.

A trial trains three fits on ``PROBE_STEPS``, 1 and ``PROBE_STEPS`` batches: the first
compiles (its time, with the build, is what another trial would cost), the other two are one
execution each when the model runs that many steps per execution, so that their difference
is the time of a step and the rest the time an execution adds (the backend's dispatch and
the host's wait for the result). Every trial starts from the same seed, so from the same
weights, and trains on the same batches: the mean loss of its steps is comparable with the
reference's (float32), the first trial.
"""

import logging
import math
import statistics
import time
from dataclasses import dataclass, field

import keras
import numpy as np

from ktrain.data import Split, array_length
from ktrain.run import feeding, fitting
from ktrain.run.steps import LoadedData, build_model
from ktrain.schema import TrainConfig, derive

log = logging.getLogger(__name__)

PROBE_STEPS = 8  # the steps of a timed execution; a trial trains 2 * PROBE_STEPS + 1


@dataclass
class Trial:
    """One candidate's measurement; ``model`` is its model, trained the trial's steps."""

    precision: str
    jit_compile: bool | str
    steps_per_execution: int
    model: keras.Model | None = None
    first_s: float = math.nan  # build, compile and the first execution: what a trial costs
    step_s: float = math.nan  # a step, within an execution
    execution_s: float = 0.0  # what an execution adds to its steps
    loss: float = math.nan  # the mean training loss of the trial's steps
    seconds: float = 0.0  # the whole trial
    error: str | None = None
    details: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.precision}, XLA {_xla(self.jit_compile)}"


def probe_batches(config: TrainConfig, data: LoadedData) -> list[Split]:
    """The run's first ``2 * PROBE_STEPS + 1`` training batches, as three splits of arrays
    (``PROBE_STEPS``, 1 and ``PROBE_STEPS`` batches), the same for every trial."""
    split, size = data.splits["train"], data.module.batch_size
    count = min(2 * PROBE_STEPS + 1, data.steps.per_epoch)
    if split.y is not None:
        order = np.random.default_rng(config.seed).permutation(array_length(split.y))[: count * size]
        x = keras.tree.map_structure(lambda a: np.asarray(a)[order], split.x)
        y = keras.tree.map_structure(lambda a: np.asarray(a)[order], split.y)
    else:  # a dataset of (x, y) batches: its first ones, decoded once
        batches = [keras.tree.map_structure(np.asarray, batch) for batch in split.x.take(count)]
        x, y = (
            keras.tree.map_structure(lambda *parts: np.concatenate(parts), *(b[i] for b in batches)) for i in (0, 1)
        )
        size = array_length(y) // len(batches)
    chunks, start = [], 0
    for batches in _chunk_sizes(count):
        part = slice(start, start + batches * size)
        chunks.append(Split(*(keras.tree.map_structure(lambda a, part=part: a[part], p) for p in (x, y)), size))
        start = part.stop
    return chunks


def _chunk_sizes(count: int) -> list[int]:
    if count >= 2 * PROBE_STEPS + 1:
        return [PROBE_STEPS, 1, PROBE_STEPS]
    rest = max(count - 1, 0)
    return [c for c in (rest - rest // 2, 1, rest // 2) if c]


def trial(
    config: TrainConfig, data: LoadedData, strategy, chunks: list[Split], candidate: Trial, reference: bool = False
) -> Trial:
    """Build the model under ``candidate``'s settings (from the run's seed) and train it on
    ``chunks``, timing each execution; a candidate that fails is returned with its error (the
    ``reference``, the run's own settings, raises it: the run fails as it would have in fit)."""
    started = time.perf_counter()
    keras.mixed_precision.set_global_policy(candidate.precision)
    keras.utils.set_random_seed(config.seed)
    settings = derive.execution(
        config, candidate.steps_per_execution, _policy(candidate.precision), candidate.jit_compile
    )
    try:
        candidate.model = build_model(settings, data, strategy)
        weights = fitting.class_weight(config.fit.class_weight, data.module.spec)
        runs = [_timed_fit(candidate.model, chunk, weights, config.seed) for chunk in chunks]
    except Exception as error:  # a setting this model or backend cannot train with
        if reference:
            raise
        log.debug("autotune: %s failed", candidate.name, exc_info=True)
        candidate.model, candidate.error = None, f"{type(error).__name__}: {error}".splitlines()[0][:300]
        return candidate
    candidate.seconds = time.perf_counter() - started
    _measure(candidate, runs, candidate.seconds)
    return candidate


def _measure(candidate: Trial, runs: list[tuple[list[float], int, float]], seconds: float) -> None:
    """Step and execution times from the fits' executions: with several steps an execution,
    the difference between a k-step and a 1-step one; else each execution is a step."""
    steps = sum(count for _, count, _ in runs)
    candidate.loss = sum(count * loss for _, count, loss in runs) / steps
    timed = runs[1:] if len(runs) > 1 else runs
    if candidate.steps_per_execution > 1 and len(runs) == 3 and runs[2][1] > 1:
        one, many, count = runs[1][0][0], runs[2][0][0], runs[2][1]
        candidate.step_s = (many - one) / (count - 1)
        if candidate.step_s <= 0:  # noise beyond the difference: no overhead to be seen
            candidate.step_s, one = many / count, many / count
        candidate.execution_s = max(0.0, one - candidate.step_s)
    else:
        candidate.step_s = statistics.median(t for times, _, _ in timed for t in times)
    candidate.first_s = seconds - sum(sum(times) for times, _, _ in runs[1:])
    candidate.details = {"executions_s": [round(t, 5) for times, _, _ in runs for t in times]}


def _timed_fit(model: keras.Model, chunk: Split, class_weight, seed: int) -> tuple[list[float], int, float]:
    """One fit over ``chunk``: the seconds of each execution, the steps, the mean loss."""
    timer = _ExecutionTimer()
    fed = feeding.fit_splits({"train": chunk}, shuffle=False, seed=seed, multi_worker=False)["train"]
    history = model.fit(
        **fed.fit_args(), epochs=1, verbose=0, shuffle=False, class_weight=class_weight, callbacks=[timer]
    )
    batches = math.ceil(array_length(chunk.y) / chunk.batch_size)
    return timer.seconds, batches, float(history.history["loss"][-1])


class _ExecutionTimer(keras.callbacks.Callback):
    """The wall time of each execution, from its batch-begin hook to its result on the host."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self._started = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        float(keras.ops.convert_to_numpy(logs["loss"]))  # waits for the execution's result
        self.seconds.append(time.perf_counter() - self._started)


def _policy(precision: str) -> str | None:
    return None if precision == "float32" else precision


def _xla(jit_compile: bool | str) -> str:
    return {True: "on", False: "off"}.get(jit_compile, "as Keras decides")
