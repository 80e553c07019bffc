"""TwinModel's training and evaluation steps on the TensorFlow backend.

One `tf.GradientTape` records the forward pass of both networks; each optimizer
that `model.optimizer` (the `TwinOptimizer`) owns scales the loss with its own
loss scale (mixed precision), the tape gives each one its own network's
gradients of that loss, and the owner applies them (`TwinOptimizer.apply`).
"""

import keras
import tensorflow as tf

from keras_tna.backend.common import stateful_test_step


class TensorFlowSteps:
    """TwinModel's steps on TensorFlow (see `keras_tna.backend`)."""

    def train_step(self, model, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        owner = model.optimizer
        variables = model.trainable_variables
        owner.build(variables)  # built before fit; a no-op then
        with tf.GradientTape(persistent=True) as tape:
            base_logits = model.base(x, training=True)
            twin_logits = model.twin(x, training=not model.freeze_twin)
            terms = model.compute_twin_losses(
                y, base_logits, twin_logits, sample_weight
            )
            objectives = owner.scale_losses(terms["loss"])
        # Each optimizer's gradients come from the loss under its own scale.
        gradients = [None] * len(variables)
        for objective, idx in zip(objectives, owner.groups):
            parts = tape.gradient(objective, [variables[i] for i in idx])
            for i, gradient in zip(idx, parts):
                gradients[i] = gradient
        del tape
        owner.apply(gradients, variables)
        return model.update_twin_metrics(
            terms, y, base_logits, twin_logits, sample_weight
        )

    def test_step(self, model, data):
        return stateful_test_step(model, data)

    def build_optimizers(self, model):
        if not model.optimizer.built:
            with model.distribute_strategy.scope():
                model.optimizer.build(model.trainable_variables)

    def num_replicas(self):
        return tf.distribute.get_strategy().num_replicas_in_sync

    def compile_fn(self, fn, static_argnames=()):
        """`fn` as it is: keras' `tf.function` step traces it."""
        return fn

    def assert_labels(self, model, y, num_classes, marker):
        """Asserts class-id labels in [0, num_classes), whole (not under XLA)."""
        if getattr(model, "jit_compile", False):
            return y  # asserts do not compile under XLA
        flat = tf.reshape(y, (-1,))
        if flat.dtype.is_floating:
            whole = tf.reduce_all(tf.equal(flat, tf.floor(flat)))
        else:
            whole = tf.constant(True)
        in_range = tf.logical_and(
            tf.reduce_all(flat >= 0),
            tf.reduce_all(flat < tf.cast(num_classes, flat.dtype)),
        )
        check = tf.debugging.Assert(
            tf.logical_and(whole, in_range),
            [marker, num_classes, tf.reduce_min(flat), tf.reduce_max(flat),
             tf.cast(whole, "int32")],
            summarize=1,
        )
        with tf.control_dependencies([check]):  # before the loss sees the labels
            return tf.identity(y)


STEPS = TensorFlowSteps()
