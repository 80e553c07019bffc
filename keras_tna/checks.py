"""Checks of `TwinModel`'s arguments and data, each with a one-line answer.

Every check raises `ValueError` or `TypeError` with one line that names the
problem, the fix and what was received (`Received: ...`), before any training
step runs. Data checks never iterate a `tf.data.Dataset` (one extra pass would
advance its reshuffling): they read its `element_spec` and `cardinality`, and
values that only the pipeline can show (labels out of range, fractional float
labels) are checked inside the TensorFlow step by `labels_in_step`, whose
failure `reraise_step_error` turns into the same kind of one-line error.
"""

import math
import numbers
import re
import weakref

import keras
import numpy as np

_OPTIMIZER_OWNERS = weakref.WeakKeyDictionary()
_LABEL_MARKER = "keras_tna_bad_labels"


# ------------------------------------------------------------------ arguments
def check_alpha(alpha):
    """Raises unless `alpha` is a finite real number >= 0 (not a bool)."""
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real):
        raise ValueError(
            "`alpha` must be a number >= 0, not a bool or a string (the paper "
            f"uses 5e-3; 0 trains two independent networks). Received: alpha={alpha!r}"
        )
    if not (math.isfinite(alpha) and alpha >= 0):
        raise ValueError(
            "`alpha` must be a finite number >= 0 (the paper uses 5e-3; 0 trains "
            f"two independent networks). Received: alpha={alpha!r}"
        )


def check_temperature(temperature):
    """Raises unless `temperature` is a finite real number > 0."""
    if (
        isinstance(temperature, (bool, np.bool_))
        or not isinstance(temperature, numbers.Real)
        or not (math.isfinite(temperature) and temperature > 0)
    ):
        raise ValueError(
            "`temperature` must be a finite positive number (1.0 is DML as "
            f"published). Received: temperature={temperature!r}"
        )


def check_bool(name, value):
    """Raises unless `value` is True or False (a string like "no" would be True)."""
    if not isinstance(value, (bool, np.bool_)) and value not in (0, 1):
        raise TypeError(
            f"`{name}` must be True or False. Received: {name}={value!r}"
        )


def check_start_epoch(value):
    """Raises unless `value` is an integer >= 0."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or int(value) != value
        or value < 0
    ):
        raise ValueError(
            "`matching_start_epoch` must be an integer >= 0. "
            f"Received: matching_start_epoch={value!r}"
        )


def check_input_shapes(base, twin):
    """Raises when `base` and `twin` take inputs of incompatible shapes."""
    shapes = [_input_shape(net) for net in (base, twin)]
    if None in shapes:
        return
    if not _compatible(shapes[0][1:], shapes[1][1:]):
        raise ValueError(
            "`base` and `twin` must take inputs of the same shape: both are fed "
            f"the same batches. Received: base input {shapes[0]}, twin input "
            f"{shapes[1]}"
        )


def get_optimizer(optimizer, role):
    """`keras.optimizers.get`, with a keras_tna message for unknown names."""
    try:
        return keras.optimizers.get(optimizer)
    except (ValueError, TypeError):
        raise ValueError(
            f"`{role}` must be a keras optimizer or the name of one, e.g. "
            "'adam' or keras.optimizers.SGD(0.1, momentum=0.9). "
            f"Received: {role}={optimizer!r}"
        ) from None


def claim_optimizer(optimizer, model, network, role):
    """Raises when `optimizer` already serves another model or network.

    One optimizer object holds the state (and the variable list) of the
    network it updates, so it cannot train a second one.
    """
    owner = _OPTIMIZER_OWNERS.get(optimizer)
    owner = owner() if owner is not None else None
    if owner is not None and owner is not model:
        raise ValueError(
            f"This `{role}` object is already compiled into another TwinModel "
            f"({owner.name!r}); an optimizer holds the state of one network "
            "only. Create a new optimizer for each TwinModel. "
            f"Received: {role}={optimizer!r}"
        )
    built_for = _built_variable_ids(optimizer)
    if built_for is not None:
        mine = {id(v) for v in network.trainable_variables}
        if not network.built or built_for != mine:
            raise ValueError(
                f"This `{role}` object was already used to train another "
                "model's variables; an optimizer holds the state of one network "
                "only. Create a new optimizer for this TwinModel. "
                f"Received: {role}={optimizer!r}"
            )
    _OPTIMIZER_OWNERS[optimizer] = weakref.ref(model)


def _built_variable_ids(optimizer):
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if not getattr(inner, "built", False):
        return None
    variables = getattr(inner, "_trainable_variables", None)
    if variables is None:
        return None
    return {id(v) for v in variables}


def check_loss(loss):
    """Raises unless `loss` is a keras Loss applied to logits."""
    if not isinstance(loss, keras.losses.Loss):
        raise TypeError(
            "`loss` must be a keras.losses.Loss applied to logits, e.g. "
            "keras.losses.SparseCategoricalCrossentropy(from_logits=True). "
            f"Received: loss={loss!r}"
        )
    try:
        from_logits = loss.get_config().get("from_logits")
    except (NotImplementedError, TypeError, AttributeError):
        from_logits = None
    if from_logits is False:
        raise ValueError(
            "`loss` must take logits: the networks output logits, so pass "
            f"{type(loss).__name__}(from_logits=True). Received: loss={loss!r} "
            "with from_logits=False"
        )


def check_batch_size(batch_size):
    """Raises unless `batch_size` is None or an integer >= 1."""
    if batch_size is None:
        return
    if (
        isinstance(batch_size, (bool, np.bool_))
        or not isinstance(batch_size, numbers.Integral)
        or batch_size < 1
    ):
        raise ValueError(
            "`batch_size` must be an integer >= 1 (or None for keras' 32). "
            f"Received: batch_size={batch_size!r}"
        )


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
    num_classes = _num_classes(model)
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
    one_hot = y.ndim == 2 and y.shape[-1] != 1
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
        raise ValueError(
            f"{prefix}`sample_weight` must be finite and >= 0 (a negative or NaN "
            "weight makes the loss meaningless). Received: weights from "
            f"{np.nanmin(weights):g} to {np.nanmax(weights):g}"
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
    one_hot = len(y_shape) == 2 and y_shape[-1] not in (None, 1)
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


# --------------------------------------------------------------- in the step
def labels_in_step(model, y, logits):
    """Adds a check of class-id labels to the TensorFlow step.

    Labels from a `tf.data` pipeline can only be seen inside the step. The
    check costs a min/max over the labels; on TensorFlow it is skipped under
    XLA (`jit_compile=True`, where asserts do not compile); on JAX two scalars
    go to the host through `jax.debug.callback` each step.
    """
    backend = keras.backend.backend()
    if y is None or len(y.shape) == len(logits.shape) and y.shape[-1] != 1:
        return y  # no labels, or one-hot
    num_classes = logits.shape[-1]
    if num_classes is None:
        return y
    if backend == "jax":
        return _labels_in_jax_step(y, num_classes)
    if backend != "tensorflow" or getattr(model, "jit_compile", False):
        return y
    import tensorflow as tf

    flat = tf.reshape(y, (-1,))
    if flat.dtype.is_floating:
        whole = tf.reduce_all(tf.equal(flat, tf.floor(flat)))
    else:
        whole = tf.constant(True)
    in_range = tf.logical_and(
        tf.reduce_all(flat >= 0), tf.reduce_all(flat < tf.cast(num_classes, flat.dtype))
    )
    check = tf.debugging.Assert(
        tf.logical_and(whole, in_range),
        [_LABEL_MARKER, num_classes, tf.reduce_min(flat), tf.reduce_max(flat),
         tf.cast(whole, "int32")],
        summarize=1,
    )
    with tf.control_dependencies([check]):  # before the loss sees the labels
        return tf.identity(y)


def _labels_in_jax_step(y, num_classes):
    """The JAX form: two scalars go to the host, which raises on bad labels."""
    import jax
    import jax.numpy as jnp

    flat = jnp.reshape(y, (-1,))
    if jnp.issubdtype(flat.dtype, jnp.floating):
        whole = jnp.all(flat == jnp.floor(flat))
    else:
        whole = jnp.array(True)
    ok = whole & jnp.all((flat >= 0) & (flat < num_classes))
    jax.debug.callback(
        _raise_bad_labels, ok, num_classes, jnp.min(flat), jnp.max(flat), whole
    )
    return y


def _raise_bad_labels(ok, num_classes, low, high, whole):
    if not bool(ok):
        raise ValueError(
            f"[{_LABEL_MARKER}] [{int(num_classes)}] [{low}] [{high}] "
            f"[{int(bool(whole))}]"
        )


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
            import warnings

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
    if value is None:
        return None
    try:
        return np.asarray(value)
    except (TypeError, ValueError):
        return None


def _single_input(model):
    try:
        return len(model.base.inputs) == 1
    except (AttributeError, TypeError, ValueError):
        return True


def _input_shape(net):
    try:
        inputs = net.inputs
        if len(inputs) != 1:
            return None
        return tuple(inputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def _num_classes(model):
    try:
        return int(model.base.outputs[0].shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def _compatible(got, want):
    return len(got) == len(want) and all(
        g is None or w is None or g == w for g, w in zip(got, want)
    )
