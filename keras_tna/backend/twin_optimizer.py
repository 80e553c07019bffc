"""`TwinOptimizer`: the one owner of the base's and the twin's optimizers.

On every backend `TwinModel.optimizer` is a `TwinOptimizer` (docs/DESIGN.md,
"The optimizer owner"). It splits the model's trainable variables between the
base's optimizer and the twin's by object identity, gives each optimizer its
own network's gradients only, and shows Keras' tools one optimizer:
`optimizers` is the attribute Keras' `ReduceLROnPlateau`,
`LearningRateScheduler` and `TensorBoard` iterate (so they set and log both
learning rates), and `variables` holds both optimizers' state (what `summary()`
counts and what Keras' JAX trainer threads through the step).
"""

import keras
from keras import ops

# The one private keras name in keras_tna. Keras' saving walker
# (`keras.saving.save_model`, `load_model`, checkpoints) visits only
# `KerasSaveable` objects, and keras 3.15 exports no public base class for them
# (`keras.saving` has none). The public alternatives, subclassing
# `keras.optimizers.Optimizer` or `MultiOptimizer`, would give TwinOptimizer its
# own `iterations` and learning-rate variables: they would join the state keras
# threads through the JAX step and the saved file, which then would no longer
# match the files written so far. If keras moves the name, only this import breaks.
from keras.src.saving.keras_saveable import KerasSaveable


class TwinOptimizer(KerasSaveable):
    """The base's and the twin's optimizers, seen by keras as one.

    Args:
        base_optimizer: keras.optimizers.Optimizer. Updates the base network.
        twin_optimizer: keras.optimizers.Optimizer or None. Updates the twin
            (None for a frozen twin).
        base: keras.Model. The base network: its trainable variables go to
            `base_optimizer`, all others to `twin_optimizer`.

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

    name = "twin_optimizer"

    def __init__(self, base_optimizer, twin_optimizer, base):
        self.base_optimizer = base_optimizer
        self.twin_optimizer = twin_optimizer
        self._base = base
        self._split = None  # (base indices, twin indices) once built

    # Saving: keras' saving walker reaches both optimizers through TwinModel's
    # own attributes, `base_optimizer` (a property) and `twin_optimizer`, and
    # writes their states under those names on every backend (the layout of
    # every file written so far). TwinOptimizer itself saves nothing: saving
    # the base's state again under "optimizer" made files that a file without
    # that entry (TensorFlow before this owner, PyTorch) could not match, and
    # loading such a file gave "Skipping variable loading for optimizer" (the
    # state had been loaded from "base_optimizer": no momentum was lost).
    def _obj_type(self):
        return "Optimizer"

    def __dir__(self):
        return []  # keras' saving walker must not descend into the two optimizers

    def save_own_variables(self, store):
        """Nothing: see the comment above."""

    def load_own_variables(self, store):
        """Nothing: see the comment above."""

    @property
    def built(self):
        return self._split is not None

    def build(self, var_list):
        """Builds both optimizers from the model's trainable variables."""
        if self.built:
            return
        mine = {id(v) for v in self._base.trainable_variables}
        base = [i for i, v in enumerate(var_list) if id(v) in mine]
        twin = [i for i, v in enumerate(var_list) if id(v) not in mine]
        if twin and self.twin_optimizer is None:
            raise ValueError("A trainable twin needs a twin optimizer.")
        self.base_optimizer.build([var_list[i] for i in base])
        if self.twin_optimizer is not None:
            self.twin_optimizer.build([var_list[i] for i in twin])
        self._split = (base, twin)

    @property
    def twin_indices(self):
        """Positions of the twin's variables in the model's trainable variables."""
        return self._split[1]

    @property
    def optimizers(self):
        """The base's and (unless frozen) the twin's optimizer, in that order."""
        return [
            o for o in (self.base_optimizer, self.twin_optimizer) if o is not None
        ]

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
        """Lets each optimizer finalize its own variables (e.g. EMA)."""
        for optimizer in self.optimizers:
            optimizer.finalize_variable_values(optimizer._trainable_variables)

    def apply(self, grads, trainable_variables=None):
        """Applies each optimizer to its own network's gradients (stateful)."""
        if trainable_variables is None:
            raise ValueError("TwinOptimizer.apply needs the trainable variables.")
        if not self.built:
            self.build(trainable_variables)
        for optimizer, idx in zip(self.optimizers, self._split):
            optimizer.apply(
                [grads[i] for i in idx], [trainable_variables[i] for i in idx]
            )

    def apply_gradients(self, grads_and_vars):
        grads, variables = zip(*grads_and_vars)
        self.apply(list(grads), list(variables))

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """Applies each optimizer to its own network's variables and gradients."""
        new_trainable = list(trainable_variables)
        new_state, start = [], 0
        for optimizer, idx in zip(self.optimizers, self._split):
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
        """(base scale, twin scale / base scale).

        Args:
            optimizer_variables: list or None. The threaded optimizer state of
                a stateless step (JAX); None reads the variables themselves
                (TensorFlow, PyTorch).
        """
        def scales():
            base = self.base_optimizer.scale_loss(1.0)
            twin = (
                self.twin_optimizer.scale_loss(1.0)
                if self.twin_optimizer is not None
                else base
            )
            return base, twin

        if optimizer_variables is None:
            base, twin = scales()
        else:
            mapping = list(zip(self.variables, optimizer_variables))
            with keras.StatelessScope(state_mapping=mapping):
                base, twin = scales()
        return base, ops.divide(twin, base)
