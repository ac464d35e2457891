"""The run's execution settings, chosen by measurement: the step between loading the data and
recording the model (``hardware.autotune``, on by default).

What a config leaves ``auto`` is chosen here: ``compile.steps_per_execution``,
``hardware.mixed_precision`` (float32, or the reduced precision the hardware computes:
``ktrain.distribute.precision``) and, on TensorFlow, XLA (``hardware.jit_compile``). A value
the config sets is never changed. The probe (``ktrain.run.probe``) trains the run's own model
on its first batches under float32 first, then under each other candidate whose trial fits in
``BUDGET`` of the run's estimated training time, and keeps the fastest by more than
``MIN_GAIN`` whose loss over those steps is within ``LOSS_TOLERANCE`` of float32's. The
steps are real: the kept model goes on from them. Its steps per execution are as many as an
epoch holds (at most ``MAX_STEPS_PER_EXECUTION``, one trace), fewer where each execution adds
so little that fewer cost under ``OVERHEAD_TARGET``, or an execution would outlast
``MAX_EXECUTION_S``. What was chosen, and why, goes to the log and to MLflow params
(``autotune.*``), from which a resumed run takes it again instead of measuring anew.
"""

import logging
import math

import keras

from ktrain.contracts import Strategy, TrackedRun
from ktrain.distribute.environment import one_step_per_call
from ktrain.distribute.precision import reduced_precisions
from ktrain.run.probe import PROBE_STEPS, Trial, probe_batches, trial
from ktrain.run.steps import LoadedData, build_model
from ktrain.schema import TrainConfig, derive

log = logging.getLogger(__name__)

BUDGET = 0.05  # of the run's estimated training time: what the trials after the first may cost
MIN_GAIN = 0.05  # how much faster a step must be to replace the reference's settings
# How much higher than float32's a candidate's mean loss over the same steps may be: from the same
# weights on the same batches the two still drift apart, by -6% to +3.5% for ResNet50 from scratch
# over 17 steps (bf16 on JAX, measured); 0.4% for the small CNN on 64x64 images.
LOSS_TOLERANCE = 0.05
OVERHEAD_TARGET = 0.02  # the share of an execution its overhead may take
LOOP_OVERHEAD_S = 0.001  # Keras' fit loop and callbacks, per execution, besides the timed call (0.5-1 ms here)
MAX_EXECUTION_S = 2.0  # longer executions make progress bars and a stop signal wait
MAX_STEPS_PER_EXECUTION = 1000
XLA_TRIAL_FACTOR = 3.0  # an XLA trial's compile against the reference's trace (a guess, stated)
SETTINGS = ("steps_per_execution", "mixed_precision", "jit_compile")


def build_tuned(
    config: TrainConfig, data: LoadedData, strategy: Strategy, tracked: TrackedRun, restore: bool
) -> tuple[TrainConfig, keras.Model]:
    """The run's config with its execution settings chosen, and its model, built and compiled
    with them (trained the probe's steps, if it was measured)."""
    if not derive.open_settings(config):
        return config, build_model(config, data, strategy)
    recorded = _recorded(tracked.logged_params()) if restore else None
    if recorded is not None:
        log.info("autotune: as when the run started: %s", _describe(*recorded))
        return _built(derive.execution(config, *recorded), data, strategy)
    off = _untuned_because(config, data)
    if off:
        log.info("autotune: Keras' defaults for the auto settings: %s", off)
        untuned = derive.untuned(config)
        tracked.log_params(_params_of(untuned, off, probe_steps=0))
        return _built(untuned, data, strategy)
    tuned, model, reason = _probe(config, data, strategy)
    tracked.log_params(
        _params_of(tuned, reason, probe_steps=int(keras.ops.convert_to_numpy(model.optimizer.iterations)))
    )
    return tuned, model


def _built(config: TrainConfig, data: LoadedData, strategy: Strategy) -> tuple[TrainConfig, keras.Model]:
    keras.mixed_precision.set_global_policy(config.hardware.mixed_precision or "float32")
    return config, build_model(config, data, strategy)


def _untuned_because(config: TrainConfig, data: LoadedData) -> str | None:
    """Why nothing is measured for this run (None: it is)."""
    hardware = config.hardware
    steps = (config.fit.epochs - config.fit.initial_epoch) * data.steps.per_epoch
    if not hardware.autotune:
        return "hardware.autotune=false"
    if hardware.deterministic:
        return "hardware.deterministic=true (timings would choose differently from run to run)"
    if hardware.strategy in ("multi_worker", "multi_host"):
        return f"hardware.strategy={hardware.strategy} (every process would have to choose alike)"
    train = data.splits["train"]
    if not (train.arrays or hasattr(train.x, "element_spec")):  # arrays or tf.data, as Split tells them
        return f"the train split is a {type(train.x).__name__}, whose first batches the probe cannot take again"
    if steps < 4 * (2 * PROBE_STEPS + 1):
        return f"the run trains {steps} step{'s' * (steps > 1)}, too few to measure against"
    return None


def _probe(config: TrainConfig, data: LoadedData, strategy: Strategy) -> tuple[TrainConfig, keras.Model, str]:
    """Measure the candidates; the chosen config, its model, and what the log said, in one line."""
    open_ = derive.open_settings(config)
    backend = keras.backend.backend()
    fixed = config.compile.steps_per_execution
    one_step = one_step_per_call(backend, config.hardware.strategy)
    traced = fixed if fixed != "auto" else (1 if one_step else _traced_steps(data))
    chunks = probe_batches(config, data)
    precision = config.hardware.mixed_precision
    first = Trial("float32" if precision in (None, "auto") else precision, config.compile.jit_compile, traced)
    search = _Search(trial(config, data, strategy, chunks, first, reference=True))
    search.budget = BUDGET * _estimated_training_s(config, data, search.reference)
    if "hardware.mixed_precision" in open_:
        for reduced in reduced_precisions(config.hardware.device, backend)[0]:
            search.consider(Trial(reduced, first.jit_compile, traced), config, data, strategy, chunks)
    if "compile.jit_compile" in open_ and backend == "tensorflow":
        keras_auto = config.hardware.device == "gpu"  # Keras' auto: XLA on GPUs, off on CPUs
        search.consider(Trial(search.best.precision, not keras_auto, traced), config, data, strategy, chunks)
    best = search.best
    if fixed != "auto":
        spe, why = fixed, "set by the config"
    elif backend == "torch":
        spe, why = 1, "the torch backend runs one step per call"
    elif one_step:
        spe, why = 1, "TensorFlow's MirroredStrategy fails on a loop of several steps per call"
    else:
        spe, why = _steps_per_execution(best, traced, search.left())
    if spe != best.steps_per_execution:
        _retrace(best.model, spe)
    keras.mixed_precision.set_global_policy(best.precision)
    search.notes.append(f"{_per_execution(spe)}: {why}")
    for note in search.notes:
        log.info("autotune: %s", note)
    log.info("autotune: chose %s", _describe(spe, _policy(best.precision), best.jit_compile))
    return derive.execution(config, spe, _policy(best.precision), best.jit_compile), best.model, "; ".join(search.notes)


def _traced_steps(data: LoadedData) -> int:
    return max(1, min(data.steps.per_epoch, MAX_STEPS_PER_EXECUTION))


class _Search:
    """The trials so far: the reference (the first), the best, what was spent of the budget."""

    def __init__(self, reference: Trial):
        self.reference = self.best = reference
        self.notes = [_measured(reference)]
        self.budget = self.spent = 0.0

    def left(self) -> float:
        return self.budget - self.spent

    def consider(self, candidate: Trial, config, data, strategy, chunks) -> None:
        """Try ``candidate`` if its trial fits in what is left of the budget; keep the better."""
        cost = _trial_cost(self.reference, candidate)
        if cost > self.left():
            self.notes.append(
                f"{candidate.name} not tried: its trial would take about {cost:.2f} s, over the "
                f"{max(self.left(), 0):.2f} s left of the budget ({BUDGET:.0%} of an estimated "
                f"{self.budget / BUDGET:.1f} s of training)"
            )
            return
        candidate = trial(config, data, strategy, chunks, candidate)
        self.spent += candidate.seconds
        self.best, note = _judged(candidate, self.best, self.reference)
        self.notes.append(note)


def _trial_cost(reference: Trial, candidate: Trial) -> float:
    factor = XLA_TRIAL_FACTOR if candidate.jit_compile is True and reference.jit_compile is not True else 1.0
    return factor * reference.first_s + (PROBE_STEPS + 1) * reference.step_s


def _judged(candidate: Trial, best: Trial, reference: Trial) -> tuple[Trial, str]:
    """The better of ``candidate`` and ``best``, and what the log says of the candidate; the
    other's model is let go."""
    if candidate.error:
        return best, f"{candidate.name} failed ({candidate.error}), dropped"
    measured = _measured(candidate)
    if candidate.loss > reference.loss * (1 + LOSS_TOLERANCE):
        candidate.model = None
        return best, (
            f"{measured}; dropped: its loss over the same steps is {candidate.loss / reference.loss - 1:+.1%} "
            f"against {reference.precision}'s, beyond the {LOSS_TOLERANCE:.0%} tolerance"
        )
    if _per_step_s(candidate) < _per_step_s(best) * (1 - MIN_GAIN):
        best.model = None
        return candidate, f"{measured}; faster"
    candidate.model = None
    return best, f"{measured}; not faster by {MIN_GAIN:.0%}"


def _steps_per_execution(best: Trial, traced: int, budget_left: float) -> tuple[int, str]:
    """How many steps an execution runs, and why: as many as traced (an epoch's), unless
    fewer cost under ``OVERHEAD_TARGET``, or an execution of that many would outlast
    ``MAX_EXECUTION_S``, and tracing again fits in what is left of the budget."""
    overhead = best.execution_s + LOOP_OVERHEAD_S
    enough = max(1, min(traced, math.ceil(overhead / (OVERHEAD_TARGET * best.step_s))))
    longest = max(1, math.floor(MAX_EXECUTION_S / best.step_s))
    said = f"a step takes {1000 * best.step_s:.2f} ms and an execution adds about {1000 * overhead:.2f} ms"
    if enough > traced // 2 and traced <= longest:
        share = overhead / (traced * best.step_s)
        return traced, f"{said}: {share:.1%} of {traced} steps (an epoch's, at most {MAX_STEPS_PER_EXECUTION})"
    wanted = min(enough, longest)
    retrace = max(best.first_s - PROBE_STEPS * best.step_s, 0.0)
    if retrace > budget_left:
        return traced, (
            f"{said}; {wanted} would do (an execution of {traced} runs {traced * best.step_s:.2f} s), but tracing "
            f"again (about {retrace:.2f} s) is over the {max(budget_left, 0):.2f} s left of the budget"
        )
    return wanted, f"{said}: {overhead / (wanted * best.step_s):.1%} of {wanted} steps, at most {MAX_EXECUTION_S:g} s"


def _retrace(model: keras.Model, steps_per_execution: int) -> None:
    """Run ``steps_per_execution`` steps per execution from the next fit on (traced anew)."""
    model.steps_per_execution = steps_per_execution
    model.train_function = model.test_function = model.predict_function = None


def _estimated_training_s(config: TrainConfig, data: LoadedData, reference: Trial) -> float:
    """The run's training time at the reference's speed: its epochs' steps, and validation's
    (a forward pass, a third of a step)."""
    sizes, batch = data.module.spec.split_sizes, data.module.batch_size
    val_steps = config.fit.validation_steps or math.ceil(sizes["val"] / batch)
    epochs = config.fit.epochs - config.fit.initial_epoch
    return epochs * (data.steps.per_epoch * _per_step_s(reference) + val_steps * reference.step_s / 3)


def _per_step_s(trial_: Trial) -> float:
    return trial_.step_s + (trial_.execution_s + LOOP_OVERHEAD_S) / trial_.steps_per_execution


def _measured(trial_: Trial) -> str:
    return (
        f"{trial_.name}: {1000 * trial_.step_s:.2f} ms a step, {1000 * trial_.execution_s:.2f} ms an execution "
        f"besides, loss {trial_.loss:.4f} over {2 * PROBE_STEPS + 1} steps, "
        f"first execution after {trial_.first_s:.2f} s"
    )


def _params_of(config: TrainConfig, reason: str, probe_steps: int) -> dict[str, str]:
    """The settings ``config`` trains with, why, and the steps the probe trained the model
    (the optimizer's step count, and so a schedule, starts the first epoch that far along)."""
    return {
        "autotune.steps_per_execution": str(config.compile.steps_per_execution),
        "autotune.mixed_precision": config.hardware.mixed_precision or "float32",
        "autotune.jit_compile": str(config.compile.jit_compile),
        "autotune.probe_steps": str(probe_steps),
        "autotune.reason": reason[:6000],
    }


def _recorded(params: dict[str, str]) -> tuple[int, str | None, bool | str] | None:
    """The settings an earlier try of this run chose (its ``autotune.*`` params), if any."""
    if not all(f"autotune.{name}" in params for name in SETTINGS):
        return None
    jit = {"True": True, "False": False}.get(params["autotune.jit_compile"], "auto")
    return int(params["autotune.steps_per_execution"]), _policy(params["autotune.mixed_precision"]), jit


def _describe(spe: int, precision: str | None, jit_compile: bool | str) -> str:
    xla = {True: "on", False: "off"}.get(jit_compile, "as Keras decides")
    return f"{_per_execution(spe)}, {precision or 'float32'}, XLA {xla}"


def _per_execution(spe: int) -> str:
    return f"{spe} step{'s' * (spe > 1)} per execution"


def _policy(precision: str) -> str | None:
    return None if precision == "float32" else precision
