"""`TwinModel`: train a base network together with a twin (TNA and relatives)."""

import keras
from keras import ops

from keras_tna import backend
from keras_tna import checks
from keras_tna import losses as tna_losses
from keras_tna.labels import is_one_hot
from keras_tna.twin_metrics import TwinMetrics


@keras.saving.register_keras_serializable(package="keras_tna")
class TwinModel(checks.CheckedFit, keras.Model):
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
    twin and ensemble (averaged logits) accuracy, and each compiled metric per
    network. An uncompiled model compiles itself on the first
    `fit`/`evaluate` with `compile()`'s defaults. Keras' own tools work as on
    a plain Model: `model.optimizer` owns both optimizers, so learning-rate
    callbacks drive and log both; `export()` exports the base;
    `keras_tna.load_model` loads a saved TwinModel in any import order. The
    deliberate differences are listed in docs/keras_tools.md.

    Bad inputs get a one-line `ValueError`/`TypeError` naming the problem, the
    fix and what was received, before any training step (`keras_tna.checks`;
    the cases tried are listed in `docs/reliability.md`). Labels may be
    integer class ids or one-hot vectors: the default loss follows them.
    Labels inside a `tf.data` pipeline are checked inside the step (on every
    backend; not under XLA on TensorFlow); the pipeline is never iterated to peek.

    Divergence in `fit`: unless a `keras_tna.DivergenceGuard` is among the
    callbacks, `fit` adds `DivergenceGuard(restore_last_good=True)`. When the
    loss becomes NaN or inf, training stops after that batch, the weights and
    optimizer state of the last epoch that ended with a finite loss (or of the
    start of this `fit`) are restored, and a `UserWarning` names the epoch and
    batch and what to lower. Pass `callbacks=[DivergenceGuard()]` to keep the
    diverged state instead.

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
        checks.check_networks(base, twin)
        checks.check_input_shapes(base, twin)
        checks.check_alpha(alpha)
        checks.check_temperature(temperature)
        checks.check_bool("freeze_twin", freeze_twin)
        checks.check_start_epoch(matching_start_epoch)
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
        self.twin_metrics = TwinMetrics()
        # The loss and accuracy trackers, as a model attribute: saved files
        # keep the layout they always had.
        self._trackers = self.twin_metrics.trackers
        if base.built and twin.built:
            self.built = True

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        optimizer="default",
        twin_optimizer=None,
        loss=None,
        metrics=None,
        weighted_metrics=None,
        **kwargs,
    ):
        """Configures the two optimizers, the cross-entropy and the metrics.

        Args:
            optimizer: keras.optimizers.Optimizer, str or `"default"`. The base
                network's optimizer. `"default"` is
                `keras.optimizers.Adam(learning_rate=1e-3)`.
            twin_optimizer: keras.optimizers.Optimizer or None. The twin's
                optimizer; `None` means an independent copy of `optimizer`
                (same class, hyper-parameters and schedule, its own state).
            loss: keras.losses.Loss or None. The classification loss applied to
                each network, taking logits (`from_logits=True`); `None` picks
                it from the labels: `SparseCategoricalCrossentropy` for integer
                class ids, `CategoricalCrossentropy` for one-hot (or soft)
                label vectors. An explicit loss must match the labels.
            metrics: list or None. Keras metrics (objects, names, or
                functions of `(y_true, logits)`) reported for each network:
                `base_<name>`, `twin_<name>` and `ensemble_<name>` (the
                ensemble averages the logits). `"accuracy"` is always
                reported (`base_accuracy`, ...). Metrics get logits, as with
                a plain Model whose last layer outputs logits.
            weighted_metrics: list or None. Same, weighted by `sample_weight`.
            **kwargs: Passed to `keras.Model.compile` (`jit_compile`,
                `steps_per_execution`, `auto_scale_loss`, ...).

        Examples:

        >>> import keras
        >>> from keras_tna import TwinModel
        >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> twin = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> model = TwinModel(base, twin)
        >>> model.compile(optimizer=keras.optimizers.SGD(0.1, name="sgd"))
        >>> type(model.twin_optimizer).__name__
        'SGD'
        >>> [o.name for o in model.optimizer.optimizers]  # owned by one object
        ['sgd', 'twin_sgd']
        """
        if kwargs.get("loss_weights") is not None:
            raise ValueError(
                "TwinModel.compile does not take `loss_weights`: the loss is "
                "CE(base) + CE(twin) + alpha * matching; set `alpha` instead. "
                f"Received: loss_weights={kwargs['loss_weights']!r}"
            )
        self.twin_metrics.set_compiled(metrics, weighted_metrics)
        optimizer, twin_optimizer = checks.check_optimizers(
            self, optimizer, twin_optimizer
        )
        self._default_loss = loss is None
        if loss is None:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            self._one_hot_loss = keras.losses.CategoricalCrossentropy(from_logits=True)
        checks.check_loss(loss)
        self.classification_loss = loss
        # Keras gets no optimizer: the owner below is the model's only one.
        super().compile(optimizer=None, **kwargs)
        # The one owner of both optimizers, on every backend (docs/DESIGN.md).
        self.optimizer = backend.TwinOptimizer.from_compile(
            optimizer,
            twin_optimizer,
            self.base,
            train_twin=not self.freeze_twin,
            loss_scaling=kwargs.get("auto_scale_loss", True)
            and self.dtype_policy.name == "mixed_float16",
        )
        self._compile_kwargs = {
            k: v for k, v in kwargs.items() if k in ("jit_compile",)
        }
        if self.built:
            self.build_optimizers()

    # Read-only views of the owner (`optimizer`): the model holds no other
    # optimizer. Keras' saving walker writes each one's state under its name.
    @property
    def base_optimizer(self):
        """The base network's optimizer, held by `optimizer` (None before compile)."""
        return getattr(getattr(self, "optimizer", None), "base_optimizer", None)

    @property
    def twin_optimizer(self):
        """The twin's optimizer, held by `optimizer` (None before compile)."""
        return getattr(getattr(self, "optimizer", None), "twin_optimizer", None)

    def build_optimizers(self):
        """Creates both optimizers' variables (needed before restoring state)."""
        self.backend_steps.build_optimizers(self)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {
            # Backend-neutral: a file saved on PyTorch loads on TensorFlow/JAX.
            "optimizer": backend.serialize_optimizer(self.base_optimizer),
            "twin_optimizer": backend.serialize_optimizer(self.twin_optimizer),
            "loss": None
            if getattr(self, "_default_loss", False)
            else keras.saving.serialize_keras_object(self.classification_loss),
            **{
                key: _serialize_list(value)
                for key, value in self.twin_metrics.config.items()
                if value is not None
            },
            **self._compile_kwargs,
        }

    def compile_from_config(self, config):
        def deserialize(value):
            if isinstance(value, list):
                return [deserialize(v) for v in value]
            if isinstance(value, dict):
                return keras.saving.deserialize_keras_object(value)
            return value

        self.compile(**{k: deserialize(v) for k, v in config.items()})

    # ------------------------------------------------------------------ steps
    def call(self, inputs, training=False):
        return self.base(inputs, training=training)

    @property
    def metrics(self):
        # The directions entry shows Keras' callbacks (mode="auto") which way
        # each metric improves; it holds no state and logs nothing.
        return self.twin_metrics.metrics + [self.twin_metrics.directions]

    @property
    def metrics_names(self):
        return [m.name for m in self.twin_metrics.metrics]

    def count_params(self):
        """The parameters of the base and the twin (not the `alpha` variable)."""
        return self.base.count_params() + self.twin.count_params()

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
        y = checks.labels_in_step(self, y, base_logits)
        base_logits = ops.cast(base_logits, "float32")
        twin_logits = ops.cast(twin_logits, "float32")
        ce = self.classification_loss
        if getattr(self, "_default_loss", False) and is_one_hot(y, base_logits):
            ce = self._one_hot_loss
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
        # TensorFlow, PyTorch: train_step(data); JAX: train_step(state, data).
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
            dict of the metrics' current values, keyed by
            `keras_tna.twin_metrics.METRIC_NAMES` and the compiled metrics' names.
        """
        return self.twin_metrics.update(
            terms, y, base_logits, twin_logits, sample_weight,
            self.backend_steps.num_replicas(),
        )

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

    def export(self, filepath, format="tf_saved_model", verbose=None,
               input_signature=None, **kwargs):
        """Exports the base network, the one inference keeps (`base.export`).

        The twin only trains; an exported TwinModel would serve the base's
        logits anyway. Export the ensemble with `model.ensemble().export(...)`.

        Args:
            filepath: str or pathlib.Path. Where to write the artifact.
            format: str. `keras.Model.export`'s format. Defaults to
                `"tf_saved_model"`.
            verbose: bool or None. Print a message.
            input_signature: optional. As in `keras.Model.export`.
            **kwargs: Passed to `keras.Model.export`.
        """
        return self.base.export(
            filepath, format=format, verbose=verbose,
            input_signature=input_signature, **kwargs,
        )

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
def _serialize_list(value):
    if isinstance(value, (list, tuple)):
        return [keras.saving.serialize_keras_object(v) for v in value]
    return keras.saving.serialize_keras_object(value)


def _input_shape(model):
    try:
        return tuple(model.inputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        raise ValueError(
            "The base network has no known input shape; build it (call it on "
            f"a batch) first. Received: base={model.name!r}"
        ) from None
