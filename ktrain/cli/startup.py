"""A command's startup: Python's garbage collector paused while TensorFlow, Keras and MLflow
are imported, and on again, with what they made frozen, when the long work begins."""

import gc

_startup = False  # whether a command's entry paused the garbage collector


def pause_garbage_collection() -> None:
    """Start a script with Python's garbage collector off, until ``startup_done``.

    Importing TensorFlow, Keras and MLflow creates millions of objects that live as long as
    the process, and each of the collector's full passes walks all of them again: about ten
    passes, 1.5 to 2 s on 2 cores, before the first epoch. Startup makes little cyclic garbage.
    """
    global _startup
    if gc.isenabled():
        gc.disable()
        _startup = True


def startup_done() -> None:
    """The script's long work begins (training, predicting): turn the collector back on, with
    every object made so far frozen, so that its passes skip them. Does nothing outside a
    script's startup: a caller's own setting of ``gc`` stays as it is."""
    global _startup
    if _startup:
        gc.freeze()
        gc.enable()
        _startup = False
