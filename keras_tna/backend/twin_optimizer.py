"""`TwinOptimizer`: the one owner of the base's and the twin's optimizers.

On every backend `TwinModel.optimizer` is a `TwinOptimizer` (docs/DESIGN.md,
"The optimizer owner"), and TwinModel holds no other reference to an
optimizer: `model.base_optimizer` and `model.twin_optimizer` are properties
that read the owner. The owner makes the twin's optimizer (a copy of the
base's unless one is given), wraps both in their own `LossScaleOptimizer`
under `mixed_float16`, splits the model's trainable variables between them by
object identity, and gives each optimizer its own network's gradients only.
It shows Keras' tools one optimizer: `optimizers` is the attribute Keras'
`ReduceLROnPlateau`, `LearningRateScheduler`, `TensorBoard` and
`SwapEMAWeights` iterate, and `variables` holds the trained optimizers' state
(what `summary()` counts and what Keras' JAX trainer threads through the step).
"""

import copy

import keras
from keras import ops


class TwinOptimizer:
    """The base's and the twin's optimizers, seen by keras as one.

    A plain object, not a `keras.optimizers.Optimizer`: an Optimizer would
    bring its own `iterations` and learning-rate variables into the state
    keras saves and threads through the JAX step. Keras' saving walker does
    not visit it (it visits Keras' own saveable classes only); it reaches the
    two optimizers through TwinModel's properties `base_optimizer` and
    `twin_optimizer` and writes their states under those names.

    Args:
        base_optimizer: keras.optimizers.Optimizer. Updates the base network.
        twin_optimizer: keras.optimizers.Optimizer or None. The twin's
            optimizer; held (and saved) also for a frozen twin, whose
            optimizer never updates anything.
        base: keras.Model. The base network: its trainable variables go to
            `base_optimizer`, all others to `twin_optimizer`.
        train_twin: bool. False for a frozen twin: then only the base's
            optimizer is in `optimizers` and `variables`. Defaults to True
            (False when `twin_optimizer` is None).

    Examples:

    >>> import keras
    >>> base = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> twin = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> owner = TwinOptimizer(keras.optimizers.SGD(0.1),
    ...                       keras.optimizers.SGD(0.1), base)
    >>> owner.build(base.trainable_variables + twin.trainable_variables)
    >>> owner.learning_rate = 0.05
    >>> [round(float(o.learning_rate), 3) for o in owner.optimizers]
    [0.05, 0.05]
    """

    # A plain optimizer has a name; keras' LR callbacks and TensorBoard log
    # the names of `optimizers` instead.
    name = "twin_optimizer"

    def __init__(self, base_optimizer, twin_optimizer, base, train_twin=True):
        self.base_optimizer = base_optimizer
        self.twin_optimizer = twin_optimizer
        self.train_twin = bool(train_twin) and twin_optimizer is not None
        self._base = base
        self._groups = None  # variable positions per optimizer, once built

    @classmethod
    def from_compile(cls, optimizer, twin_optimizer, base, train_twin, loss_scaling):
        """The owner `TwinModel.compile` makes from its (checked) arguments.

        Args:
            optimizer: keras.optimizers.Optimizer. The base's optimizer.
            twin_optimizer: keras.optimizers.Optimizer or None. The twin's;
                None: an independent copy of `optimizer` (same class,
                hyper-parameters and schedule, its own state) named
                `twin_<name>`.
            base: keras.Model. The base network.
            train_twin: bool. False for a frozen twin.
            loss_scaling: bool. Wrap each optimizer that is not one already in
                its own `keras.optimizers.LossScaleOptimizer` (`compile`'s
                `auto_scale_loss` under the `mixed_float16` policy; the
                rule and the base's name are those of `keras.Model.compile`).

        Returns:
            TwinOptimizer. The twin's optimizer is renamed `twin_<name>` when
            it has the base's name (keras' LR callbacks log
            `learning_rate_<name>` per optimizer).
        """
        if twin_optimizer is None:
            twin_optimizer = _independent_copy(optimizer, name_prefix="twin_")
        if loss_scaling:
            optimizer = _loss_scaled(optimizer, "loss_scale_optimizer")
            twin_optimizer = _loss_scaled(twin_optimizer, "twin_loss_scale_optimizer")
        if twin_optimizer.name == optimizer.name:
            twin_optimizer.name = f"twin_{twin_optimizer.name}"
        return cls(optimizer, twin_optimizer, base, train_twin=train_twin)

    @property
    def built(self):
        return self._groups is not None

    def build(self, var_list):
        """Builds the trained optimizers from the model's trainable variables."""
        if self.built:
            return
        mine = {id(v) for v in self._base.trainable_variables}
        base = [i for i, v in enumerate(var_list) if id(v) in mine]
        twin = [i for i, v in enumerate(var_list) if id(v) not in mine]
        if twin and not self.train_twin:
            raise ValueError("A trainable twin needs a twin optimizer.")
        groups = [base, twin] if self.train_twin else [base]
        for optimizer, idx in zip(self.optimizers, groups):
            optimizer.build([var_list[i] for i in idx])
        self._groups = groups

    @property
    def groups(self):
        """Each optimizer's positions in the model's trainable variables (once built).

        One list per optimizer, in the order of `optimizers`.
        """
        return self._groups

    @property
    def twin_indices(self):
        """Positions of the twin's variables in the model's trainable variables."""
        return self._groups[1] if self.train_twin else []

    @property
    def optimizers(self):
        """The base's and (unless frozen) the twin's optimizer, in that order."""
        if self.train_twin:
            return [self.base_optimizer, self.twin_optimizer]
        return [self.base_optimizer]

    @property
    def variables(self):
        return [v for o in self.optimizers for v in o.variables]

    @property
    def iterations(self):
        return self.base_optimizer.iterations

    @property
    def learning_rate(self):
        """The base's learning rate; assigning sets both optimizers'."""
        return self.base_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        for optimizer in self.optimizers:
            optimizer.learning_rate = value

    def finalize_variable_values(self, var_list):
        """Lets each optimizer finalize its own network's variables (EMA).

        Args:
            var_list: list of keras.Variable. The model's trainable variables.
        """
        if not self.built:
            return
        for optimizer, idx in zip(self.optimizers, self._groups):
            optimizer.finalize_variable_values([var_list[i] for i in idx])

    def scale_losses(self, loss):
        """`loss` under each optimizer's own loss scale, in the order of `optimizers`.

        Under mixed precision each `LossScaleOptimizer` multiplies by its own
        dynamic scale; a plain optimizer returns `loss` itself.
        """
        return [optimizer.scale_loss(loss) for optimizer in self.optimizers]

    def apply(self, grads, trainable_variables=None):
        """Applies each optimizer to its own network's gradients (stateful).

        Args:
            grads: list of tensors. One gradient per trainable variable (each
                scaled by its own optimizer's loss scale).
            trainable_variables: list of keras.Variable. The model's
                trainable variables.
        """
        if trainable_variables is None:
            raise ValueError("TwinOptimizer.apply needs the trainable variables.")
        if not self.built:
            self.build(trainable_variables)
        for optimizer, idx in zip(self.optimizers, self._groups):
            optimizer.apply(
                [grads[i] for i in idx], [trainable_variables[i] for i in idx]
            )

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """Applies each optimizer to its own network's variables and gradients."""
        new_trainable = list(trainable_variables)
        new_state, start = [], 0
        for optimizer, idx in zip(self.optimizers, self._groups):
            count = len(optimizer.variables)
            state = optimizer_variables[start : start + count]
            start += count
            updated, state = optimizer.stateless_apply(
                state, [grads[i] for i in idx], [trainable_variables[i] for i in idx]
            )
            for i, value in zip(idx, updated):
                new_trainable[i] = value
            new_state.extend(state)
        return new_trainable, new_state

    def loss_scales(self, optimizer_variables=None):
        """(base scale, twin scale / base scale), for one gradient of all variables.

        A step that differentiates `loss * base scale` once (JAX, PyTorch)
        passes the twin's gradients through `rescale_twin` with the second
        value, so that each optimizer unscales with its own loss scale.

        Args:
            optimizer_variables: list or None. The threaded optimizer state of
                a stateless step (JAX); None reads the variables themselves
                (TensorFlow, PyTorch).
        """
        def scales():
            base = self.base_optimizer.scale_loss(1.0)
            twin = self.twin_optimizer.scale_loss(1.0) if self.train_twin else base
            return base, twin

        if optimizer_variables is None:
            base, twin = scales()
        else:
            mapping = list(zip(self.variables, optimizer_variables))
            with keras.StatelessScope(state_mapping=mapping):
                base, twin = scales()
        return base, ops.divide(twin, base)

    def rescale_twin(self, grads, factor):
        """`grads` with the twin's gradients times `factor` (see `loss_scales`).

        Args:
            grads: list of tensors or None. One per trainable variable.
            factor: scalar tensor. `loss_scales()[1]`.

        Returns:
            list: the gradients, the twin's rescaled (None stays None).
        """
        grads = list(grads)
        for i in self.twin_indices:
            if grads[i] is not None:
                grads[i] = grads[i] * ops.cast(factor, grads[i].dtype)
        return grads


def _independent_copy(optimizer, name_prefix=""):
    """A new optimizer of the same class and config, with its own state."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    config = copy.deepcopy(keras.saving.serialize_keras_object(optimizer))
    config["config"]["name"] = name_prefix + config["config"]["name"]
    return keras.saving.deserialize_keras_object(config)


def _loss_scaled(optimizer, name):
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer, name=name)
