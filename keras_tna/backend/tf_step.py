"""TwinModel's training and evaluation steps on the TensorFlow backend.

One `tf.GradientTape` records the forward pass of both networks; each optimizer
scales the loss (mixed precision) and applies only its own network's gradients.
"""

import keras
import tensorflow as tf


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
            pairs = [(model.optimizer, model.base)]
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
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        base_logits = model.base(x, training=False)
        twin_logits = model.twin(x, training=False)
        terms = model.compute_twin_losses(y, base_logits, twin_logits, sample_weight)
        return model.update_twin_metrics(
            terms, y, base_logits, twin_logits, sample_weight
        )

    def after_compile(self, model):
        """The base's optimizer stays `model.optimizer`; nothing to adapt."""

    def build_optimizers(self, model):
        with model.distribute_strategy.scope():
            model.optimizer.build(model.base.trainable_variables)
            if not model.freeze_twin:
                model.twin_optimizer.build(model.twin.trainable_variables)

    def num_replicas(self):
        return tf.distribute.get_strategy().num_replicas_in_sync


STEPS = TensorFlowSteps()
