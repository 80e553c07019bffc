"""A bare, hand-written TNA training step: the reference the benchmarks compare with.

Two networks, one `tf.GradientTape`, CE + CE + alpha * sum-over-classes squared
logit difference (mean over the batch) + their regularization losses, and an
SGD optimizer per network. No keras trainer, no metrics.
"""

import keras
import tensorflow as tf

from keras_tna import models

ALPHA = 5e-3


def bare_tna_step(name, num_classes, input_shape, alpha=ALPHA):
    """Returns a `tf.function` `step(x, y) -> loss` on two fresh networks `name`."""
    base = models.build(name, num_classes, input_shape, seed=0)
    twin = models.build(name, num_classes, input_shape, seed=1)
    opt_a = keras.optimizers.SGD(0.01, momentum=0.9)
    opt_b = keras.optimizers.SGD(0.01, momentum=0.9)
    opt_a.build(base.trainable_variables)
    opt_b.build(twin.trainable_variables)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            logits_a = base(x, training=True)
            logits_b = twin(x, training=True)
            matching = tf.reduce_mean(tf.reduce_sum(tf.square(logits_a - logits_b), -1))
            loss = ce(y, logits_a) + ce(y, logits_b) + alpha * matching
            loss += tf.add_n(base.losses + twin.losses or [0.0])
        va, vb = base.trainable_variables, twin.trainable_variables
        grads = tape.gradient(loss, va + vb)
        opt_a.apply_gradients(zip(grads[: len(va)], va))
        opt_b.apply_gradients(zip(grads[len(va) :], vb))
        return loss

    return step
