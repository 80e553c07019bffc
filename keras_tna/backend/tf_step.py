"""TwinModel's training step on the TensorFlow backend.

One `tf.GradientTape` records the forward pass of both networks; each optimizer
scales the loss (mixed precision) and applies only its own network's gradients.
"""

import keras
import tensorflow as tf


def train_step(model, data):
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    train_twin = not model.freeze_twin
    with tf.GradientTape(persistent=True) as tape:
        base_logits = model.base(x, training=True)
        twin_logits = model.twin(x, training=train_twin)
        terms = model.compute_twin_losses(y, base_logits, twin_logits, sample_weight)
        pairs = [(model.optimizer, model.base)]
        if train_twin:
            pairs.append((model.twin_optimizer, model.twin))
        objectives = [opt.scale_loss(terms["loss"]) for opt, _ in pairs]
    for (optimizer, network), objective in zip(pairs, objectives):
        variables = network.trainable_variables
        gradients = tape.gradient(objective, variables)
        optimizer.apply_gradients(zip(gradients, variables))
    del tape
    return model._update_metrics(terms, y, base_logits, twin_logits, sample_weight)
