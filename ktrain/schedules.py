"""Learning-rate schedules built from the base learning rate and the length of training.

Each builder takes ``learning_rate``, ``steps_per_epoch`` and ``epochs`` (the run passes
the last two, from the data and ``fit.epochs``) and returns what a Keras optimizer takes as
``learning_rate``: a float or a stock ``keras.optimizers.schedules`` object. Stock classes
only, so that a saved model's optimizer loads with ``safe_mode=True`` where ktrain is not
installed, and a resumed run continues the schedule from the optimizer's step count.

Epoch ``e`` (counted from 0, as Keras and the ``lr`` metric count) starts at optimizer step
``e * steps_per_epoch``; a piecewise schedule keeps its old value up to and including its
boundary, hence the ``- 1`` below.
"""

import math

from keras.optimizers.schedules import CosineDecay, ExponentialDecay, PiecewiseConstantDecay


def constant(learning_rate: float, steps_per_epoch: int, epochs: int) -> float:
    """The base learning rate, unchanged (ReduceLROnPlateau may still lower it)."""
    return learning_rate


def cosine(learning_rate: float, steps_per_epoch: int, epochs: int, alpha: float = 0.0) -> CosineDecay:
    """Cosine decay over the whole run, from ``learning_rate`` to ``alpha * learning_rate``."""
    return CosineDecay(learning_rate, decay_steps=steps_per_epoch * epochs, alpha=alpha)


def warmup_cosine(
    learning_rate: float, steps_per_epoch: int, epochs: int, warmup_epochs: float = 1, alpha: float = 0.0
) -> CosineDecay:
    """A linear rise from 0 to ``learning_rate`` over ``warmup_epochs``, then cosine decay
    to ``alpha * learning_rate`` by the end of the run."""
    warmup_steps = max(1, round(warmup_epochs * steps_per_epoch))
    return CosineDecay(
        0.0,
        decay_steps=max(1, steps_per_epoch * epochs - warmup_steps),
        alpha=alpha,
        warmup_target=learning_rate,
        warmup_steps=warmup_steps,
    )


def one_cycle(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    warmup_fraction: float = 0.3,
    div_factor: float = 25.0,
    final_fraction: float = 1e-4,
) -> CosineDecay:
    """One cycle (Smith & Topin, "Super-Convergence", 2018): a linear rise from
    ``learning_rate / div_factor`` to ``learning_rate`` over the first ``warmup_fraction`` of
    the run, then cosine annealing to ``final_fraction * learning_rate`` at its end.

    Stock ``CosineDecay`` draws exactly this (its warm-up is linear from its initial rate, and
    ``alpha`` is a fraction of ``warmup_target``); the paper's second half is linear, fastai's
    (and this) cosine. Momentum is not cycled: Keras 3 optimizers read ``momentum`` and
    ``beta_1`` as Python floats, fixed when the train step is traced."""
    total = steps_per_epoch * epochs
    warmup_steps = max(1, round(warmup_fraction * total))
    return CosineDecay(
        learning_rate / div_factor,
        decay_steps=max(1, total - warmup_steps),
        alpha=final_fraction,
        warmup_target=learning_rate,
        warmup_steps=warmup_steps,
    )


def exponential(learning_rate: float, steps_per_epoch: int, epochs: int, decay_rate: float = 0.1) -> ExponentialDecay:
    """Smooth exponential decay: the rate has fallen to ``decay_rate * learning_rate`` by the
    end of the run (Keras' ``decay_steps`` is the run's number of steps)."""
    return ExponentialDecay(learning_rate, decay_steps=steps_per_epoch * epochs, decay_rate=decay_rate)


def step(
    learning_rate: float,
    steps_per_epoch: int,
    epochs: int,
    drop_epochs: tuple[int, ...] = (10, 15),
    factor: float = 0.1,
) -> PiecewiseConstantDecay:
    """The rate is multiplied by ``factor`` at the start of each epoch in ``drop_epochs``."""
    boundaries = [epoch * steps_per_epoch - 1 for epoch in drop_epochs]
    values = [learning_rate * factor**drops for drops in range(len(drop_epochs) + 1)]
    return PiecewiseConstantDecay(boundaries, values)


def epoch_exponential(
    learning_rate: float, steps_per_epoch: int, epochs: int, hold_epochs: int = 10, decay: float = 0.1
) -> PiecewiseConstantDecay | float:
    """Keras' LearningRateScheduler example as a schedule: ``learning_rate`` for the first
    ``hold_epochs`` epochs, then multiplied by ``exp(-decay)`` at the start of every epoch."""
    decaying = range(hold_epochs, epochs)
    if not decaying:
        return learning_rate
    boundaries = [epoch * steps_per_epoch - 1 for epoch in decaying]
    values = [learning_rate] + [learning_rate * math.exp(-decay * (epoch - hold_epochs + 1)) for epoch in decaying]
    return PiecewiseConstantDecay(boundaries, values)
