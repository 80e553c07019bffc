"""`TwinModel`: train a base network together with a twin (TNA and relatives)."""

import copy
import warnings

import keras
import numpy as np
from keras import ops

from keras_tna import backend
from keras_tna import losses as tna_losses
from keras_tna.callbacks import LateMatching

METRIC_NAMES = (
    "loss",
    "base_loss",
    "twin_loss",
    "matching_loss",
    "base_accuracy",
    "twin_accuracy",
    "ensemble_accuracy",
)


@keras.saving.register_keras_serializable(package="keras_tna")
class TwinModel(keras.Model):
    """Trains a base network with a twin; only the base is kept for inference.

    The training objective (Twin Network Augmentation, the paper's eq. (1)) is

        L = CE(y, o_A) + CE(y, o_B) + alpha * M(o_A, o_B)

    with `o_A`, `o_B` the logits of `base` and `twin` and `M` the matching loss:
    `"tna"` (default) is `sum_over_classes((o_A - o_B) ** 2)` averaged over the
    batch, in float32, with no stop-gradient (see `keras_tna.losses.LogitMatching`
    for the conversion to `keras.losses.MeanSquaredError`). One gradient tape
    computes the step; `optimizer` updates the base only and `twin_optimizer` the
    twin only.

    The paper's comparisons are options of this class:

    - `alpha=0`: two independent networks (the "Single" baseline and the
      ensemble of two singles).
    - `matching="dml"`: Deep Mutual Learning, each network gets
      `CE + alpha * KL(p_peer || p_self)` with the peer held constant
      (`alpha=1` is DML as published); `temperature` softens both.
    - `freeze_twin=True`: a pretrained twin that is never updated and gets no
      cross-entropy term (knowledge distillation by logit matching, Fig. 4).
    - `matching_start_epoch=k`: no matching before epoch `k` (late matching,
      Fig. 5). The effective alpha lives in the variable `alpha_variable`,
      set between epochs by a `keras_tna.callbacks.LateMatching` callback that
      `fit` adds.
    - Twins of another architecture: any two models with logits of one shape.

    `model(x)` and `predict` return the base's logits; `evaluate` reports base,
    twin and ensemble (averaged logits) accuracy. An uncompiled model compiles
    itself on the first `fit`/`evaluate` with `compile()`'s defaults.

    Args:
        base: keras.Model. The network that is kept; outputs class logits.
        twin: keras.Model. The twin, same logit shape as `base`, separate
            weights (see `keras_tna.make_twin`).
        alpha: float. Weight of the matching loss, >= 0. Defaults to `5e-3`.
        matching: str or keras.losses.Loss. `"tna"` (logit L2 matching) or
            `"dml"` (mutual KL divergence), or a loss called as
            `loss(twin_logits, base_logits)`. Defaults to `"tna"`.
        temperature: float. Softmax temperature for `"dml"`. Defaults to `1.0`.
        freeze_twin: bool. Keep the twin fixed (no update, no CE term).
            Defaults to `False`.
        matching_start_epoch: int. First epoch (0-based) with matching.
            Defaults to `0`.
        **kwargs: Passed to `keras.Model` (e.g. `name`).

    Examples:

    >>> import keras, numpy as np
    >>> from keras_tna import TwinModel
    >>> def net(seed):
    ...     return keras.Sequential([keras.Input((4,)), keras.layers.Dense(
    ...         3, kernel_initializer=keras.initializers.GlorotUniform(seed))])
    >>> model = TwinModel(net(0), net(1), alpha=5e-3)
    >>> x, y = np.random.rand(32, 4), np.random.randint(0, 3, 32)
    >>> history = model.fit(x, y, epochs=1, verbose=0)
    >>> sorted(history.history)  # doctest: +NORMALIZE_WHITESPACE
    ['base_accuracy', 'base_loss', 'ensemble_accuracy', 'loss',
     'matching_loss', 'twin_accuracy', 'twin_loss']
    >>> model.base.predict(x, verbose=0).shape
    (32, 3)
    """

    def __init__(
        self,
        base,
        twin,
        alpha=5e-3,
        matching="tna",
        temperature=1.0,
        freeze_twin=False,
        matching_start_epoch=0,
        **kwargs,
    ):
        _check_networks(base, twin)
        if not isinstance(alpha, (int, float, np.floating)) or not alpha >= 0:
            raise ValueError(
                "`alpha` must be a number >= 0 (the paper uses 5e-3; 0 trains "
                f"two independent networks). Received: alpha={alpha!r}"
            )
        if int(matching_start_epoch) != matching_start_epoch or (
            matching_start_epoch < 0
        ):
            raise ValueError(
                "`matching_start_epoch` must be an integer >= 0. "
                f"Received: matching_start_epoch={matching_start_epoch!r}"
            )
        super().__init__(**kwargs)
        # This backend's train/test steps (`keras_tna.backend`), chosen once.
        self.backend_steps = backend.steps()
        self.base = base
        self.twin = twin
        self.alpha = float(alpha)
        self.matching = matching
        self.temperature = float(temperature)
        self.freeze_twin = bool(freeze_twin)
        self.matching_start_epoch = int(matching_start_epoch)
        self.matching_loss_fn = tna_losses.get_matching_loss(matching, temperature)
        if self.freeze_twin:
            twin.trainable = False
        self.alpha_variable = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(
                self.alpha if self.matching_start_epoch == 0 else 0.0
            ),
            trainable=False,
            name="alpha",
        )
        self._trackers = {
            name: keras.metrics.Mean(name=name) for name in METRIC_NAMES
        }
        self.twin_optimizer = None
        if base.built and twin.built:
            self.built = True

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        optimizer="default",
        twin_optimizer=None,
        loss=None,
        **kwargs,
    ):
        """Configures the two optimizers and the cross-entropy.

        Args:
            optimizer: keras.optimizers.Optimizer, str or `"default"`. The base
                network's optimizer. `"default"` is
                `keras.optimizers.Adam(learning_rate=1e-3)`.
            twin_optimizer: keras.optimizers.Optimizer or None. The twin's
                optimizer; `None` means an independent copy of `optimizer`
                (same class, hyper-parameters and schedule, its own state).
            loss: keras.losses.Loss or None. The classification loss applied to
                each network; `None` means
                `keras.losses.SparseCategoricalCrossentropy(from_logits=True)`.
                Labels may be integer class ids or one-hot vectors.
            **kwargs: Passed to `keras.Model.compile` (`jit_compile`,
                `steps_per_execution`, `auto_scale_loss`, ...). `metrics` is
                not accepted: the TwinModel reports its own.

        Examples:

        >>> import keras
        >>> from keras_tna import TwinModel
        >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> twin = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> model = TwinModel(base, twin)
        >>> model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
        >>> type(model.twin_optimizer).__name__
        'SGD'
        """
        for key in ("metrics", "weighted_metrics", "loss_weights"):
            if kwargs.get(key) is not None:
                raise ValueError(
                    f"TwinModel.compile does not take `{key}`: it reports "
                    f"{', '.join(METRIC_NAMES)} itself. Received: {key}="
                    f"{kwargs[key]!r}"
                )
        if optimizer == "default":
            optimizer = keras.optimizers.Adam(learning_rate=1e-3)
        optimizer = keras.optimizers.get(optimizer)
        if twin_optimizer is None:
            twin_optimizer = _independent_copy(optimizer)
        else:
            twin_optimizer = keras.optimizers.get(twin_optimizer)
            if twin_optimizer is optimizer:
                raise ValueError(
                    "`twin_optimizer` is the same object as `optimizer`; each "
                    "network needs its own optimizer state. Pass a second "
                    "optimizer or None (an independent copy)."
                )
        if loss is None:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if not isinstance(loss, keras.losses.Loss):
            raise TypeError(
                "`loss` must be a keras.losses.Loss applied to logits, e.g. "
                "keras.losses.SparseCategoricalCrossentropy(from_logits=True). "
                f"Received: loss={loss!r}"
            )
        self.classification_loss = loss
        super().compile(optimizer=optimizer, **kwargs)
        self.twin_optimizer = twin_optimizer
        if (
            kwargs.get("auto_scale_loss", True)
            and self.dtype_policy.name == "mixed_float16"
            and not isinstance(twin_optimizer, keras.optimizers.LossScaleOptimizer)
        ):
            self.twin_optimizer = keras.optimizers.LossScaleOptimizer(
                twin_optimizer, name="twin_loss_scale_optimizer"
            )
        self.backend_steps.after_compile(self)
        self._compile_kwargs = {
            k: v for k, v in kwargs.items() if k in ("jit_compile",)
        }
        if self.built:
            self.build_optimizers()

    @property
    def base_optimizer(self):
        """The base network's optimizer (`optimizer`, unless the backend wraps it)."""
        return getattr(self.optimizer, "base_optimizer", self.optimizer)

    def build_optimizers(self):
        """Creates both optimizers' variables (needed before restoring state)."""
        self.backend_steps.build_optimizers(self)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {
            "optimizer": keras.saving.serialize_keras_object(self.base_optimizer),
            "twin_optimizer": keras.saving.serialize_keras_object(
                self.twin_optimizer
            ),
            "loss": keras.saving.serialize_keras_object(self.classification_loss),
            **self._compile_kwargs,
        }

    def compile_from_config(self, config):
        config = {
            k: keras.saving.deserialize_keras_object(v)
            if isinstance(v, dict)
            else v
            for k, v in config.items()
        }
        self.compile(**config)

    # ------------------------------------------------------------------ steps
    def call(self, inputs, training=False):
        return self.base(inputs, training=training)

    @property
    def metrics(self):
        return list(self._trackers.values())

    def compute_twin_losses(self, y, base_logits, twin_logits, sample_weight=None):
        """Returns the loss terms of one batch as a dict of scalars.

        Each value already carries keras' `tf.distribute` scaling, so `"loss"`
        can be differentiated as it is.

        Args:
            y: tensor. Integer labels `(batch,)` or one-hot `(batch, classes)`.
            base_logits: tensor. The base network's logits.
            twin_logits: tensor. The twin network's logits.
            sample_weight: tensor or None. Per-sample weights.

        Returns:
            dict with `"base_loss"`, `"twin_loss"`, `"matching_loss"` and
            `"loss"`; `"loss"` is `base_loss + twin_loss + alpha * matching_loss`
            (without `twin_loss` when the twin is frozen), plus the networks'
            regularization losses.
        """
        base_logits = ops.cast(base_logits, "float32")
        twin_logits = ops.cast(twin_logits, "float32")
        ce = self.classification_loss
        terms = {
            "base_loss": ce(y, base_logits, sample_weight),
            "twin_loss": ce(y, twin_logits, sample_weight),
            "matching_loss": self.matching_loss_fn(
                twin_logits, base_logits, sample_weight
            ),
        }
        total = terms["base_loss"] + self.alpha_variable * terms["matching_loss"]
        if not self.freeze_twin:
            total = total + terms["twin_loss"]
        regularization = self.base.losses + (
            [] if self.freeze_twin else self.twin.losses
        )
        if regularization:
            total = total + ops.sum(regularization) / self.backend_steps.num_replicas()
        terms["loss"] = total
        return terms

    def train_step(self, *args):
        # TensorFlow: train_step(data); JAX: train_step(state, data).
        return self.backend_steps.train_step(self, *args)

    def test_step(self, *args):
        return self.backend_steps.test_step(self, *args)

    def update_twin_metrics(self, terms, y, base_logits, twin_logits, sample_weight):
        """Updates the loss and accuracy trackers with one batch; returns the logs.

        Called by the backend steps (`keras_tna.backend`).

        Args:
            terms: dict. `compute_twin_losses`' loss terms of the batch.
            y: tensor. The labels.
            base_logits: tensor. The base's logits.
            twin_logits: tensor. The twin's logits.
            sample_weight: tensor or None. Per-sample weights.

        Returns:
            dict of the metrics' current values, keyed by `METRIC_NAMES`.
        """
        base_logits = ops.cast(base_logits, "float32")
        twin_logits = ops.cast(twin_logits, "float32")
        batch_size = ops.shape(base_logits)[0]
        for name, value in terms.items():
            self._trackers[name].update_state(
                value * self.backend_steps.num_replicas(), sample_weight=batch_size
            )
        labels = _class_ids(y, base_logits)
        for name, logits in (
            ("base_accuracy", base_logits),
            ("twin_accuracy", twin_logits),
            ("ensemble_accuracy", (base_logits + twin_logits) / 2.0),
        ):
            hits = ops.cast(
                ops.cast(ops.argmax(logits, axis=-1), "int32") == labels, "float32"
            )
            self._trackers[name].update_state(hits, sample_weight=sample_weight)
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, *args, callbacks=None, **kwargs):
        """`keras.Model.fit`, after checking the data and building optimizers.

        Compiles with the defaults if needed, checks the first batch's labels
        against the number of classes, builds both optimizers (so that
        `keras.callbacks.BackupAndRestore` restores both) and adds the
        `LateMatching` callback that sets `alpha_variable` each epoch.
        """
        self._prepare(x, y)
        callbacks = list(callbacks or [])
        if not any(isinstance(c, LateMatching) for c in callbacks):
            callbacks.append(LateMatching(self.matching_start_epoch))
        return super().fit(x, y, *args, callbacks=callbacks, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._prepare(x, y)
        return super().evaluate(x, y, *args, **kwargs)

    def _prepare(self, x, y):
        if not self.compiled:
            self.compile()
        x_first, y_first = _first_batch(x, y)
        if not self.built and x_first is not None:
            self.base(x_first[:1])
            self.twin(x_first[:1])
            self.built = True
        _check_logit_shapes(self.base, self.twin, x_first)
        _check_labels(y_first, _num_classes(self.base))
        self.build_optimizers()

    # ------------------------------------------------------------------ export
    def ensemble(self, name="ensemble"):
        """Returns a plain keras.Model averaging the base's and twin's logits.

        Examples:

        >>> import keras, numpy as np
        >>> from keras_tna import TwinModel
        >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> twin = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> ens = TwinModel(base, twin).ensemble()
        >>> x = np.ones((2, 4), "float32")
        >>> bool(np.allclose(ens.predict(x, verbose=0),
        ...      (base.predict(x, verbose=0) + twin.predict(x, verbose=0)) / 2))
        True
        """
        inputs = keras.Input(batch_shape=_input_shape(self.base))
        outputs = keras.layers.Average(dtype="float32")(
            [self.base(inputs), self.twin(inputs)]
        )
        return keras.Model(inputs, outputs, name=name)

    # ------------------------------------------------------------------ config
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "base": keras.saving.serialize_keras_object(self.base),
            "twin": keras.saving.serialize_keras_object(self.twin),
            "alpha": self.alpha,
            "matching": (
                self.matching
                if isinstance(self.matching, str)
                else keras.saving.serialize_keras_object(self.matching)
            ),
            "temperature": self.temperature,
            "freeze_twin": self.freeze_twin,
            "matching_start_epoch": self.matching_start_epoch,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("base", "twin"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        if isinstance(config.get("matching"), dict):
            config["matching"] = keras.saving.deserialize_keras_object(
                config["matching"]
            )
        return cls(**config)


# ---------------------------------------------------------------------- helpers
def _independent_copy(optimizer):
    """A new optimizer of the same class and config, with its own state."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    config = copy.deepcopy(keras.saving.serialize_keras_object(optimizer))
    return keras.saving.deserialize_keras_object(config)


def _class_ids(y, logits):
    """Integer labels from class ids or one-hot (or soft) label vectors."""
    if len(y.shape) == len(logits.shape) and y.shape[-1] != 1:
        return ops.cast(ops.argmax(y, axis=-1), "int32")
    return ops.cast(ops.reshape(y, (-1,)), "int32")


def _input_shape(model):
    try:
        return tuple(model.inputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        raise ValueError(
            "The base network has no known input shape; build it (call it on "
            f"a batch) first. Received: base={model.name!r}"
        ) from None


def _num_classes(model):
    try:
        return int(model.outputs[0].shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def _ends_in_softmax(model):
    layers = getattr(model, "layers", None)
    if not layers:
        return False
    last = layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return True
    activation = getattr(last, "activation", None)
    return getattr(activation, "__name__", "") == "softmax"


def _check_networks(base, twin):
    for role, net in (("base", base), ("twin", twin)):
        if not isinstance(net, keras.Model):
            raise TypeError(
                f"`{role}` must be a keras.Model that outputs class logits. "
                f"Received: {role}={net!r}"
            )
        if _ends_in_softmax(net):
            warnings.warn(
                f"The {role} network {net.name!r} ends in a softmax; TwinModel "
                "expects logits (TNA matches logits, and the cross-entropy is "
                "applied from logits). Remove the final softmax.",
                stacklevel=3,
            )
    if twin is base:
        raise ValueError(
            "`twin` is the same object as `base`; TNA needs two networks with "
            "separate weights. Build a second network, e.g. "
            "keras_tna.make_twin(base)."
        )
    base_ids = {id(v) for v in base.weights}
    if any(id(v) in base_ids for v in twin.weights):
        raise ValueError(
            "`twin` shares weights with `base`; TNA needs two networks with "
            "separate weights. Build a second network, e.g. "
            "keras_tna.make_twin(base)."
        )
    _check_logit_shapes(base, twin, None)


def _check_logit_shapes(base, twin, x_first):
    shapes = []
    for net in (base, twin):
        try:
            shapes.append(tuple(net.outputs[0].shape[1:]))
        except (AttributeError, IndexError, TypeError, ValueError):
            if x_first is None:
                return
            shapes.append(tuple(net(x_first[:1]).shape[1:]))
    if shapes[0] != shapes[1]:
        raise ValueError(
            "`base` and `twin` must output logits of the same shape. "
            f"Received: base logits {shapes[0]}, twin logits {shapes[1]}"
        )


def _first_batch(x, y):
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
        if len(y_shape) == 2 and y_shape[-1] not in (None, 1):
            y_zero = np.zeros((1, y_shape[-1]), "float32")  # one-hot: width only
        return x_zero, y_zero
    if y is None:
        return None, None
    return _as_numpy(x), _as_numpy(y)


def _as_numpy(value):
    try:
        return np.asarray(value)
    except (TypeError, ValueError):
        return None


def _check_labels(y, num_classes):
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
