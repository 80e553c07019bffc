"""TwinModel's training and evaluation steps on the JAX backend (stateless).

Keras' JAX trainer threads four lists of values through each step: trainable,
non-trainable, optimizer and metric variables, the optimizer ones being
`model.optimizer.variables`: those of `TwinOptimizer`
(`keras_tna.backend.twin_optimizer`), which holds the base's and the twin's
optimizers, so each network is still updated by its own optimizer only.
"""

import functools

import jax
import jax.numpy as jnp
import keras

from keras_tna.backend.common import SingleDevice


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
    grads = model.optimizer.rescale_twin(grads, twin_rescale)  # to the twin's own scale
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


class JaxSteps(SingleDevice):
    """TwinModel's steps on JAX (see `keras_tna.backend`)."""

    def train_step(self, model, state, data):
        return train_step(model, state, data)

    def test_step(self, model, state, data):
        return test_step(model, state, data)

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
