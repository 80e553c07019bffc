"""Checks while `fit` runs: labels inside the step, and two callbacks.

Labels from a `tf.data` pipeline can only be seen inside the step:
`labels_in_step` adds the check there (through the backend's step object,
`keras_tna.backend`), and `reraise_step_error` turns its failure into the
same kind of one-line `ValueError` as the checks before the fit.
"""

import re
import warnings

import keras

from keras_tna.labels import is_one_hot

_LABEL_MARKER = "keras_tna_bad_labels"


# --------------------------------------------------------------- in the step
def labels_in_step(model, y, logits):
    """Adds a check of class-id labels to the step; returns the labels.

    The check costs a min/max over the labels. The backend's step object adds
    it (`assert_labels`): on TensorFlow as an assert, skipped under XLA
    (`jit_compile=True`, where asserts do not compile); on JAX two scalars go
    to the host through `jax.debug.callback` each step, on PyTorch three
    scalars are read on the host each step. A failure carries
    `_LABEL_MARKER`, which `reraise_step_error` recognises.
    """
    if y is None or is_one_hot(y, logits):
        return y  # no labels, or one-hot
    num_classes = logits.shape[-1]
    if num_classes is None:
        return y
    return model.backend_steps.assert_labels(model, y, num_classes, _LABEL_MARKER)


def reraise_step_error(error):
    """Raises a one-line ValueError for a failed `labels_in_step` check.

    Does nothing for any other error (the caller re-raises it).
    """
    text = str(error)
    if _LABEL_MARKER not in text:
        return
    found = re.search(
        _LABEL_MARKER + r"\]\s*\[(\d+)\]\s*\[([^\]]+)\]\s*\[([^\]]+)\]\s*\[(\d)\]", text
    )
    if not found:
        raise ValueError(
            "Labels from the dataset are not class ids in [0, num_classes). "
            "Fix the labels or build the networks with more classes. "
            "Received: a batch with bad labels"
        ) from None
    num_classes, low, high, whole = found.groups()
    if whole == "0":
        raise ValueError(
            "Float labels from the dataset must be whole class ids (they would "
            "be truncated to integers): cast the pipeline's labels to int32 "
            f"class ids or use one-hot vectors. Received: labels from {low} to {high}"
        ) from None
    raise ValueError(
        f"Labels must be class ids in [0, {num_classes}) for networks with "
        f"{num_classes} logits. Received: labels from {low} to {high} in a batch "
        "of the dataset; fix the labels (e.g. map 1-based ids to 0-based) or "
        f"build the networks with more classes."
    ) from None


# ------------------------------------------------------------ after the fit
class FrozenTwinCheck(keras.callbacks.Callback):
    """Warns once when a frozen twin is at chance on the training data.

    A frozen twin teaches the base by logit matching; an untrained one (a
    forgotten `load_weights`) only adds noise. The check reads the
    `twin_accuracy` that the step reports anyway, after 20 batches or at the
    end of the first epoch.
    """

    def __init__(self, num_classes):
        super().__init__()
        self.num_classes = num_classes
        self.done = False

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 >= 20:
            self._check(logs, f"{batch + 1} batches")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, f"epoch {epoch + 1}")

    def _check(self, logs, when):
        if self.done or not self.num_classes or not logs:
            return
        self.done = True
        accuracy = logs.get("twin_accuracy")
        if accuracy is None:
            return
        accuracy = float(accuracy)
        chance = 1.0 / self.num_classes
        if accuracy < chance + 0.1 * (1.0 - chance):
            warnings.warn(
                "freeze_twin=True but the frozen twin is at chance on the "
                f"training data (twin_accuracy {accuracy:.3f} after {when}, "
                f"chance {chance:.3f}): it teaches the base nothing. Load the "
                "pretrained twin's weights before fit (twin.load_weights(...)).",
                stacklevel=2,
            )


class StepCounter(keras.callbacks.Callback):
    """Counts training batches, so that `fit` can say when none ran."""

    def __init__(self):
        super().__init__()
        self.batches = 0
        self.epochs = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs += 1

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def check_ran(self):
        """Raises when an epoch began but the data yielded no batch.

        A resumed run with no epoch left (`BackupAndRestore`) begins none.
        """
        if self.batches == 0 and self.epochs > 0:
            raise ValueError(
                "fit ran no training step: the data yielded no batches. Check "
                "the dataset's source, split and filters (and that it is not "
                "an exhausted iterator). Received: 0 batches in "
                f"{self.epochs} epoch(s)"
            )
