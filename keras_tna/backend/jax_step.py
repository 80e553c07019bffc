"""TwinModel's training and evaluation steps on the JAX backend (stateless).

Keras' JAX trainer threads four lists of values through each step: trainable,
non-trainable, optimizer and metric variables, the optimizer ones being
`model.optimizer.variables`. `TwinOptimizer` is that optimizer: it holds the
base's and the twin's optimizers and splits variables, gradients and state
between them, so each network is still updated by its own optimizer only.
"""

import functools

import jax
import jax.numpy as jnp
import keras
from keras import ops

# The one private keras name in keras_tna. Keras' saving walker
# (`keras.saving.save_model`, `load_model`, checkpoints) visits only
# `KerasSaveable` objects, and keras 3.15 exports no public base class for them
# (`keras.saving` has none). The public alternative, subclassing
# `keras.optimizers.Optimizer`, would give TwinOptimizer its own `iterations`
# and learning-rate variables: they would join the state keras threads through
# the JAX step and the saved file, which then would no longer match the
# TensorFlow one. If keras moves the name, only this import breaks.
from keras.src.saving.keras_saveable import KerasSaveable


class TwinOptimizer(KerasSaveable):
    """The base's and the twin's optimizers, seen by keras as one.

    Args:
        base_optimizer: keras.optimizers.Optimizer. Updates the base network.
        twin_optimizer: keras.optimizers.Optimizer or None. Updates the twin
            (None for a frozen twin).
        base_variables: list of keras.Variable. The base's trainable variables.
    """

    def __init__(self, base_optimizer, twin_optimizer, base_variables):
        self.base_optimizer = base_optimizer
        self.twin_optimizer = twin_optimizer
        self._base_ids = {id(v) for v in base_variables}
        self._split = None  # (base indices, twin indices) once built

    # Saving: keras' saving walker reaches both optimizers through TwinModel's
    # own attributes, `base_optimizer` (a property) and `twin_optimizer`, and
    # writes their states under those names on every backend. TwinOptimizer
    # itself saves nothing: loading the base's state a second time from an
    # "optimizer" entry, which a TensorFlow or PyTorch file does not have, only
    # gave "Skipping variable loading for optimizer" (the state was loaded).
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
        base = [i for i, v in enumerate(var_list) if id(v) in self._base_ids]
        twin = [i for i, v in enumerate(var_list) if id(v) not in self._base_ids]
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

    def _optimizers(self):
        return [o for o in (self.base_optimizer, self.twin_optimizer) if o is not None]

    @property
    def variables(self):
        return [v for o in self._optimizers() for v in o.variables]

    @property
    def iterations(self):
        return self.base_optimizer.iterations

    @property
    def learning_rate(self):
        return self.base_optimizer.learning_rate

    def finalize_variable_values(self, var_list):
        """Keras calls this after fit (EMA); each optimizer handles its own."""

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """Applies each optimizer to its own network's variables and gradients."""
        base_idx, twin_idx = self._split
        new_trainable = list(trainable_variables)
        new_state, start = [], 0
        for optimizer, idx in zip(self._optimizers(), (base_idx, twin_idx)):
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

    def loss_scales(self, optimizer_variables):
        """(base scale, twin scale / base scale) under the threaded state."""
        mapping = list(zip(self.variables, optimizer_variables))
        with keras.StatelessScope(state_mapping=mapping):
            base = self.base_optimizer.scale_loss(1.0)
            twin = (
                self.twin_optimizer.scale_loss(1.0)
                if self.twin_optimizer is not None
                else base
            )
        return base, ops.divide(twin, base)


def _forward(model, trainable, non_trainable, x, y, sample_weight, training):
    mapping = list(zip(model.trainable_variables, trainable)) + list(
        zip(model.non_trainable_variables, non_trainable)
    )
    with keras.StatelessScope(state_mapping=mapping) as scope:
        base_logits = model.base(x, training=training)
        twin_logits = model.twin(x, training=training and not model.freeze_twin)
        terms = model.compute_twin_losses(y, base_logits, twin_logits, sample_weight)
    new_non_trainable = [
        _current(scope, v) for v in model.non_trainable_variables
    ]
    return terms, base_logits, twin_logits, new_non_trainable


def _current(scope, variable):
    value = scope.get_current_value(variable)
    return variable.value if value is None else value


def _metrics(model, metrics_variables, terms, y, base_logits, twin_logits, sw):
    mapping = list(zip(model.metrics_variables, metrics_variables))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = model.update_twin_metrics(terms, y, base_logits, twin_logits, sw)
    return logs, [_current(scope, v) for v in model.metrics_variables]


def train_step(model, state, data):
    trainable, non_trainable, optimizer_variables, metrics_variables = state
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    base_scale, twin_rescale = model.optimizer.loss_scales(optimizer_variables)

    def objective(trainable):
        terms, base_logits, twin_logits, new_nt = _forward(
            model, trainable, non_trainable, x, y, sample_weight, training=True
        )
        return terms["loss"] * base_scale, (terms, base_logits, twin_logits, new_nt)

    (_, aux), grads = jax.value_and_grad(objective, has_aux=True)(trainable)
    terms, base_logits, twin_logits, non_trainable = aux
    for i in model.optimizer.twin_indices:  # each optimizer unscales with its own loss scale
        grads[i] = grads[i] * ops.cast(twin_rescale, grads[i].dtype)
    trainable, optimizer_variables = model.optimizer.stateless_apply(
        optimizer_variables, grads, trainable
    )
    logs, metrics_variables = _metrics(
        model, metrics_variables, terms, y, base_logits, twin_logits, sample_weight
    )
    return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)


def test_step(model, state, data):
    trainable, non_trainable, metrics_variables = state
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    terms, base_logits, twin_logits, non_trainable = _forward(
        model, trainable, non_trainable, x, y, sample_weight, training=False
    )
    logs, metrics_variables = _metrics(
        model, metrics_variables, terms, y, base_logits, twin_logits, sample_weight
    )
    return logs, (trainable, non_trainable, metrics_variables)


class JaxSteps:
    """TwinModel's steps on JAX (see `keras_tna.backend`)."""

    def train_step(self, model, state, data):
        return train_step(model, state, data)

    def test_step(self, model, state, data):
        return test_step(model, state, data)

    def after_compile(self, model):
        # Keras' JAX trainer threads only `model.optimizer.variables`.
        model.optimizer = TwinOptimizer(
            model.optimizer,
            None if model.freeze_twin else model.twin_optimizer,
            model.base.trainable_variables,
        )

    def build_optimizers(self, model):
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)

    def num_replicas(self):
        return 1

    def compile_fn(self, fn, static_argnames=()):
        """`fn` under `jax.jit`, with `static_argnames` as Python values."""
        return jax.jit(fn, static_argnames=tuple(static_argnames))

    def assert_labels(self, model, y, num_classes, marker):
        """Checks class-id labels on the host: two scalars leave the device."""
        flat = jnp.reshape(y, (-1,))
        if jnp.issubdtype(flat.dtype, jnp.floating):
            whole = jnp.all(flat == jnp.floor(flat))
        else:
            whole = jnp.array(True)
        ok = whole & jnp.all((flat >= 0) & (flat < num_classes))
        jax.debug.callback(
            functools.partial(_raise_bad_labels, marker),
            ok, num_classes, jnp.min(flat), jnp.max(flat), whole,
        )
        return y


def _raise_bad_labels(marker, ok, num_classes, low, high, whole):
    if not bool(ok):
        raise ValueError(
            f"[{marker}] [{int(num_classes)}] [{low}] [{high}] [{int(bool(whole))}]"
        )


STEPS = JaxSteps()
