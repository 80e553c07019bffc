"""Checks of the data given to `fit`/`evaluate`, before any training step.

They never iterate a `tf.data.Dataset` (one extra pass would advance its
reshuffling): they read its `element_spec` and `cardinality`; values that only
the pipeline can show are checked inside the step (`keras_tna.checks.during_fit`).
"""

import numbers

import keras
import numpy as np

from keras_tna.checks.arguments import _compatible, _input_shape
from keras_tna.labels import is_one_hot_shape


# ----------------------------------------------------------------------- data
def check_data(model, x, y=None, sample_weight=None, role="x", fit_kwargs=None):
    """Checks the data given to `fit`/`evaluate` against the networks.

    Args:
        model: TwinModel. Its networks give input shape and class count.
        x: array, `tf.data.Dataset` or other keras input. The inputs (or the
            dataset of `(x, y)` batches).
        y: array or None. The labels, when `x` is an array.
        sample_weight: array or None. Per-example weights.
        role: str. How the data was passed (`"x"`, `"validation_data"`), for
            the messages.
        fit_kwargs: dict or None. The remaining `fit` arguments.
    """
    fit_kwargs = fit_kwargs or {}
    prefix = "" if role == "x" else f"`{role}`: "
    if x is None:
        raise ValueError(f"{prefix}no data: pass x and y (arrays) or a dataset of "
                         "(x, y) batches. Received: x=None")
    if _is_dataset(x):
        _check_dataset(model, x, y, prefix, fit_kwargs)
        return
    if isinstance(x, list) and _single_input(model) and x and not hasattr(
        x[0], "shape"
    ):
        raise TypeError(
            f"{prefix}x is a Python list; keras needs arrays: pass np.asarray(x) "
            f"(and np.asarray(y)). Received: a list of {len(x)} items"
        )
    x_array = _as_array(x) if _single_input(model) else None
    if x_array is None:
        return  # a generator, PyDataset or multi-input data: keras checks it
    if x_array.dtype.kind in "USO":
        raise TypeError(
            f"{prefix}inputs must be numbers; convert them first (e.g. decode "
            f"images to float32 arrays). Received: x of dtype {x_array.dtype}"
        )
    if x_array.ndim == 0 or len(x_array) == 0:
        raise ValueError(
            f"{prefix}there are no examples to train on: x is empty. "
            f"Received: x.shape={x_array.shape}"
        )
    _check_example_shape(model, x_array.shape, prefix)
    if y is None:
        raise ValueError(
            f"{prefix}TwinModel needs labels: pass y (class ids or one-hot), or "
            "a dataset of (x, y) batches. Received: y=None"
        )
    if x_array.dtype.kind == "f" and not np.isfinite(x_array).all():
        bad = np.argwhere(~np.isfinite(x_array.reshape(len(x_array), -1)))
        raise ValueError(
            f"{prefix}inputs contain NaN or inf ({len(bad)} values, first in "
            f"example {bad[0][0]}); training would give a NaN loss. Clean them "
            "(e.g. np.nan_to_num) or drop those examples. "
            f"Received: x.shape={x_array.shape}"
        )
    y_array = _as_array(y)
    if y_array is None:
        return
    if y_array.ndim == 0 or len(y_array) != len(x_array):
        raise ValueError(
            f"{prefix}x and y must have one label per example. Received: "
            f"{len(x_array)} examples in x, labels of shape {y_array.shape}"
        )
    check_labels(y_array, model, prefix)
    if sample_weight is not None:
        _check_sample_weight(_as_array(sample_weight), len(x_array), prefix)


def check_labels(y, model, prefix=""):
    """Checks an array of labels against the networks and the loss."""
    num_classes = count_classes(model)
    if y.dtype.kind in "US" or (y.dtype.kind == "O" and y.size and isinstance(
        y.reshape(-1)[0], (str, bytes)
    )):
        raise TypeError(
            f"{prefix}labels are strings; TwinModel needs integer class ids: "
            "map them to class ids, e.g. with "
            "`names, y = np.unique(labels, return_inverse=True)`. "
            f"Received: labels of dtype {y.dtype}, e.g. {y.reshape(-1)[0]!r}"
        )
    if y.dtype.kind not in "biuf":
        raise TypeError(
            f"{prefix}labels must be integer class ids or one-hot vectors. "
            f"Received: labels of dtype {y.dtype}"
        )
    if y.ndim > 2:
        raise ValueError(
            f"{prefix}labels must have shape (n,) (class ids) or (n, classes) "
            f"(one-hot). Received: labels of shape {y.shape}"
        )
    one_hot = is_one_hot_shape(y.shape)
    _check_loss_matches(model, one_hot, f"{prefix}labels of shape {y.shape}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(
            f"{prefix}labels contain NaN or inf; fix or drop those examples. "
            f"Received: labels of shape {y.shape}"
        )
    if one_hot:
        if num_classes is not None and y.shape[-1] != num_classes:
            raise ValueError(
                f"{prefix}One-hot labels have {y.shape[-1]} classes but the "
                f"networks output {num_classes} logits. Received: labels of "
                f"shape {y.shape}"
            )
        return
    flat = y.reshape(-1)
    if y.dtype.kind == "f" and flat.size and not (flat == np.floor(flat)).all():
        example = flat[flat != np.floor(flat)][0]
        raise ValueError(
            f"{prefix}float labels must be whole class ids (they would be "
            "truncated to integers); pass integer class ids or one-hot "
            f"vectors. Received: a label {example!r}"
        )
    if num_classes is None or not flat.size:
        return
    low, high = flat.min(), flat.max()
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"{prefix}Labels must be class ids in [0, {num_classes}) for networks "
            f"with {num_classes} logits. Received: labels from {low:g} to "
            f"{high:g}; build the networks with num_classes={int(high) + 1} "
            "or fix the labels."
        )


def check_validation_data(model, validation_data):
    """Checks `fit(validation_data=...)` like the training data."""
    if validation_data is None:
        return
    if _is_dataset(validation_data):
        check_data(model, validation_data, role="validation_data")
        return
    if isinstance(validation_data, (tuple, list)):
        if len(validation_data) not in (2, 3):
            raise ValueError(
                "`validation_data` must be (x, y), (x, y, sample_weight) or a "
                "dataset of (x, y) batches; labels are needed to validate. "
                f"Received: a {type(validation_data).__name__} of "
                f"{len(validation_data)} items"
            )
        sample_weight = validation_data[2] if len(validation_data) == 3 else None
        check_data(
            model, validation_data[0], validation_data[1], sample_weight,
            role="validation_data",
        )


def _check_sample_weight(weights, n, prefix):
    if weights is None:
        return
    if weights.ndim == 0 or len(weights) != n:
        raise ValueError(
            f"{prefix}`sample_weight` needs one weight per example. Received: "
            f"{n} examples, sample_weight of shape {weights.shape}"
        )
    if weights.dtype.kind not in "biuf":
        raise TypeError(
            f"{prefix}`sample_weight` must be numbers. Received: dtype {weights.dtype}"
        )
    if not np.isfinite(weights).all() or (weights < 0).any():
        numbers = weights[~np.isnan(weights)]  # np.nanmin warns on all-NaN
        low, high = (numbers.min(), numbers.max()) if numbers.size else (np.nan,) * 2
        raise ValueError(
            f"{prefix}`sample_weight` must be finite and >= 0 (a negative or NaN "
            "weight makes the loss meaningless). Received: weights from "
            f"{low:g} to {high:g}"
            + (", with NaN or inf" if not np.isfinite(weights).all() else "")
        )


def _check_dataset(model, dataset, y, prefix, fit_kwargs):
    if y is not None:
        raise ValueError(
            f"{prefix}a dataset already holds the labels: pass fit(dataset) "
            "without y, with the dataset yielding (x, y) batches. Received: a "
            "tf.data.Dataset and y"
        )
    if fit_kwargs.get("validation_split"):
        raise ValueError(
            "`validation_split` works with arrays only: with a dataset, pass "
            "validation_data=another dataset (e.g. from dataset.take/skip). "
            f"Received: validation_split={fit_kwargs['validation_split']!r}"
        )
    spec = dataset.element_spec
    if isinstance(spec, dict):
        raise ValueError(
            f"{prefix}the dataset yields dicts; TwinModel needs (x, y) pairs: "
            "map it, e.g. ds.map(lambda d: (d['image'], d['label'])), or use "
            f"tfds.load(..., as_supervised=True). Received: keys {sorted(spec)}"
        )
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        raise ValueError(
            f"{prefix}the dataset yields no labels; TwinModel needs (x, y) "
            "batches, e.g. tf.data.Dataset.from_tensor_slices((x, y)).batch(128). "
            f"Received: elements {_spec_text(spec)}"
        )
    cardinality = _cardinality(dataset)
    if cardinality == 0:
        raise ValueError(
            f"{prefix}the dataset is empty: there is nothing to train on. Check "
            "the source (path, split, filter) before batching. Received: a "
            "dataset of 0 batches"
        )
    x_spec, y_spec = spec[0], spec[1]
    x_shape = _spec_shape(x_spec)
    if x_shape is not None and _single_input(model):
        _check_example_shape(model, x_shape, prefix, dataset=True)
    y_shape = _spec_shape(y_spec)
    dtype = getattr(y_spec, "dtype", None)
    if dtype is not None and dtype.name == "string":
        raise TypeError(
            f"{prefix}labels are strings; TwinModel needs integer class ids: "
            "map them in the pipeline, e.g. with "
            "tf.keras.layers.StringLookup(vocabulary=names, num_oov_indices=0). "
            f"Received: labels of dtype {dtype.name}"
        )
    if y_shape is None:
        return
    if len(y_shape) > 2:
        raise ValueError(
            f"{prefix}labels must have shape (batch,) (class ids) or (batch, "
            f"classes) (one-hot). Received: labels of shape {y_shape}"
        )
    one_hot = is_one_hot_shape(y_shape)
    _check_loss_matches(model, one_hot, f"{prefix}labels of shape {y_shape}")


def _check_loss_matches(model, one_hot, received):
    loss = getattr(model, "classification_loss", None)
    if getattr(model, "_default_loss", False) or loss is None:
        return
    if one_hot and isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        raise ValueError(
            "The labels are one-hot but the loss is SparseCategoricalCrossentropy "
            "(for class ids): compile with loss=None (picks the matching loss) or "
            "keras.losses.CategoricalCrossentropy(from_logits=True), or pass "
            f"class ids. Received: {received}"
        )
    if not one_hot and isinstance(loss, keras.losses.CategoricalCrossentropy):
        raise ValueError(
            "The labels are integer class ids but the loss is "
            "CategoricalCrossentropy (for one-hot labels): compile with loss=None "
            "or keras.losses.SparseCategoricalCrossentropy(from_logits=True), or "
            f"pass one-hot labels. Received: {received}"
        )


def _check_example_shape(model, shape, prefix, dataset=False):
    """Raises when batches of `shape` (with the batch axis) don't fit."""
    expected = _input_shape(model.base)
    if expected is None:
        return
    shape = tuple(shape)
    what = "the dataset's batches" if dataset else "x"
    if dataset and len(shape) == len(expected) - 1 and _compatible(
        shape, expected[1:]
    ):
        raise ValueError(
            f"{prefix}the dataset yields single examples, not batches: add "
            f".batch(batch_size) to the pipeline. Received: elements of shape "
            f"{shape}, networks take {expected}"
        )
    example = shape[1:]
    want = expected[1:]
    if _compatible(example, want):
        return
    if len(example) == len(want) - 1 and want[-1] == 1 and _compatible(
        example, want[:-1]
    ):
        return  # keras adds a trailing channel axis of 1 itself
    hint = ""
    if len(example) == len(want) - 1 and len(want) == 3:
        hint = (
            f" Images need a channel axis: networks built for {want[-1]} "
            "channel(s) take (height, width, channels)."
        )
    elif len(example) == len(want) >= 3 and _compatible(
        example[1:] + example[:1], want
    ):
        hint = (
            " The images are channels-first; the networks take channels-last: "
            "use np.transpose(x, (0, 2, 3, 1))."
        )
    raise ValueError(
        f"{prefix}the inputs do not fit the networks: each example must have "
        f"shape {want} (the base's input {expected}).{hint} Received: "
        f"{what} of shape {shape}"
    )


# ------------------------------------------------------------- a sample batch
def first_batch(x, y):
    """A sample `(x, y)` to check, without consuming any data.

    Arrays are returned as they are. A `tf.data.Dataset` (or another iterable)
    is never iterated here: one extra pass would advance its reshuffling, so a
    TwinModel and a plain model fed the same seeded pipeline would see their
    batches in different orders. From a dataset only its `element_spec` is
    used: zeros of one example's shape, and one-hot label widths (integer
    label values are checked by the data pipeline's `num_classes`).
    """
    if x is None:
        return None, None
    spec = getattr(x, "element_spec", None)
    if y is None and spec is not None:
        if not isinstance(spec, (tuple, list)) or len(spec) < 2:
            return None, None
        x_spec, y_spec = spec[0], spec[1]
        try:
            x_zero = np.zeros((1,) + tuple(x_spec.shape[1:]), x_spec.dtype.as_numpy_dtype)
        except (AttributeError, TypeError, ValueError):
            x_zero = None
        y_shape = tuple(getattr(y_spec, "shape", ()))
        y_zero = None
        if is_one_hot_shape(y_shape):
            y_zero = np.zeros((1, y_shape[-1]), "float32")  # one-hot: width only
        return x_zero, y_zero
    if y is None:
        return None, None
    return _as_array(x), _as_array(y)


def check_sample_labels(y, num_classes):
    """Checks `first_batch`'s labels (one-hot width, class-id range)."""
    if y is None or num_classes is None or y.dtype == object:
        return
    if y.ndim >= 2 and y.shape[-1] not in (1,):
        if y.shape[-1] != num_classes:
            raise ValueError(
                f"One-hot labels have {y.shape[-1]} classes but the networks "
                f"output {num_classes} logits. Received: labels of shape "
                f"{y.shape}"
            )
        return
    if not np.issubdtype(y.dtype, np.number):
        return
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"Labels must be class ids in [0, {num_classes}) for networks with "
            f"{num_classes} logits. Received: labels from {y.min()} to "
            f"{y.max()}; build the networks with num_classes={int(y.max()) + 1} "
            "or fix the labels."
        )


# ------------------------------------------------------------------ helpers
def _is_dataset(x):
    return hasattr(x, "element_spec") and hasattr(x, "cardinality")


def _cardinality(dataset):
    try:
        return int(dataset.cardinality())
    except (TypeError, ValueError):
        return -2


def _spec_shape(spec):
    shape = getattr(spec, "shape", None)
    if shape is None or getattr(shape, "rank", 0) is None:
        return None
    return tuple(shape)


def _spec_text(spec):
    return repr(spec).replace("\n", " ")


def _as_array(value):
    """`value` as a numpy array if it is array data, else None.

    Generators, iterators, `keras.utils.PyDataset`s and data loaders are not
    array data: they are neither iterated nor indexed here (that would consume
    or materialise them); keras checks what they yield.
    """
    if value is None or not _is_array_like(value):
        return None
    try:
        return np.asarray(value)
    except (TypeError, ValueError):
        return None


def _is_array_like(value):
    return isinstance(value, (np.ndarray, list, tuple, numbers.Number)) or (
        hasattr(value, "shape") and hasattr(value, "dtype")
    ) or hasattr(value, "__array__")


def _single_input(model):
    try:
        return len(model.base.inputs) == 1
    except (AttributeError, TypeError, ValueError):
        return True


def count_classes(model):
    """The number of logits of a TwinModel's networks, or None if unknown."""
    try:
        return int(model.base.outputs[0].shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
