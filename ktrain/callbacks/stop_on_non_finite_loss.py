"""Stop a run whose training loss is no longer a number, and say why."""

import math

from ktrain.callbacks.base import Callback
from ktrain.errors import UserError


class StopOnNonFiniteLoss(Callback):
    """Ends the run at the end of the first epoch whose training loss is NaN or infinite.

    Keras' ``TerminateOnNaN`` stops quietly, and the run would be recorded FINISHED with a
    useless model; this raises a ``UserError``, so the run ends FAILED with the reason. Place
    it first: then the checkpoint, the backup and the metric log never see the bad epoch,
    and what they keep is the last good one. It looks once per epoch (the epoch's mean loss
    is NaN if any batch's was), which costs the training loop nothing per batch.

    Example:

    >>> model.fit(x, y, callbacks=[StopOnNonFiniteLoss(), keras.callbacks.ModelCheckpoint(...)])
    """

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(loss := float(loss)):
            return
        self.model.stop_training = True
        kept = (
            f"; the checkpoints and the backup of epochs 1 to {epoch} are kept"
            if epoch
            else " before any epoch completed"
        )
        raise UserError(
            f"the training loss became {'NaN' if math.isnan(loss) else loss} in epoch {epoch + 1} "
            f"(learning rate {self.learning_rate():.3g}), so the run stopped{kept}. "
            "A loss that is not a number usually means a learning rate too high for this model and "
            "optimizer (lower optimizer.learning_rate, or warm up with schedule=warmup_cosine), or NaN "
            "or infinite values in the data."
        )
