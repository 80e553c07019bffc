"""TwinModel's training and evaluation steps on the TensorFlow backend.

One `tf.GradientTape` records the forward pass of both networks; each of the two
optimizers that `model.optimizer` (a `TwinOptimizer`) owns scales the loss
(mixed precision) and applies only its own network's gradients.
"""

import keras
import tensorflow as tf

from keras_tna.backend.common import stateful_test_step


class TensorFlowSteps:
    """TwinModel's steps on TensorFlow (see `keras_tna.backend`)."""

    def train_step(self, model, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        train_twin = not model.freeze_twin
        with tf.GradientTape(persistent=True) as tape:
            base_logits = model.base(x, training=True)
            twin_logits = model.twin(x, training=train_twin)
            terms = model.compute_twin_losses(
                y, base_logits, twin_logits, sample_weight
            )
            pairs = [(model.base_optimizer, model.base)]
            if train_twin:
                pairs.append((model.twin_optimizer, model.twin))
            objectives = [opt.scale_loss(terms["loss"]) for opt, _ in pairs]
        for (optimizer, network), objective in zip(pairs, objectives):
            variables = network.trainable_variables
            gradients = tape.gradient(objective, variables)
            optimizer.apply_gradients(zip(gradients, variables))
        del tape
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
