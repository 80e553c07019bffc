"""What the backends' step objects share (`keras_tna.backend`).

`stateful_test_step`: the evaluation step of the backends whose variables
hold their values (TensorFlow, PyTorch); `SingleDevice`: building the
optimizers and the replica count where Keras' own trainer handles no
tf.distribute strategy (JAX, PyTorch).
"""

import keras


def stateful_test_step(model, data):
    """Both networks forward (inference mode), loss terms, metrics; returns the logs."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    base_logits = model.base(x, training=False)
    twin_logits = model.twin(x, training=False)
    terms = model.compute_twin_losses(y, base_logits, twin_logits, sample_weight)
    return model.update_twin_metrics(terms, y, base_logits, twin_logits, sample_weight)


class SingleDevice:
    """`build_optimizers` and `num_replicas` of a step object without tf.distribute."""

    def build_optimizers(self, model):
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)

    def num_replicas(self):
        return 1
