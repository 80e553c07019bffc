"""Labels: the one rule for integer class ids against one-hot (or soft) labels.

Three callers ask it: the argument checks before `fit` (`checks.data`, from an
array's or a tf.data element_spec's shape), the in-step label check
(`checks.during_fit`) and the step's loss and metrics (`twin_model`,
`twin_metrics`), from the labels tensor and the logits.

Examples:

>>> is_one_hot_shape((32, 10)), is_one_hot_shape((32,)), is_one_hot_shape((32, 1))
(True, False, False)
"""

from keras import ops


def is_one_hot_shape(shape):
    """Whether labels of this shape (from data, before a step) are vectors.

    Args:
        shape: tuple of int or None. The labels' shape, batch first.

    Returns:
        bool: True for `(batch, classes)` with a known `classes` > 1 (one-hot
        or soft labels); False for class ids, `(batch,)` or `(batch, 1)`.
    """
    return len(shape) == 2 and shape[-1] not in (None, 1)


def is_one_hot(y, logits):
    """Whether a step's labels are one-hot (or soft) vectors rather than class ids.

    Args:
        y: tensor or None. The labels of a batch.
        logits: tensor. A network's logits of the same batch.

    Returns:
        bool: True when `y` has the logits' rank and a last axis other than 1.
    """
    return y is not None and len(y.shape) == len(logits.shape) and y.shape[-1] != 1


def class_ids(y, logits):
    """Integer labels `(batch,)` from class ids or one-hot (or soft) label vectors.

    Args:
        y: tensor. The labels of a batch.
        logits: tensor. A network's logits of the same batch.

    Returns:
        tensor: int32 class ids.
    """
    if is_one_hot(y, logits):
        return ops.cast(ops.argmax(y, axis=-1), "int32")
    return ops.cast(ops.reshape(y, (-1,)), "int32")
