"""TwinModel's training and evaluation steps on the PyTorch backend.

Both networks run forward, one `backward()` over the whole objective fills
every trainable variable's `.grad`, and `model.optimizer` (the `TwinOptimizer`
that owns both optimizers) gives each optimizer its own network's gradients.
Under mixed precision the loss is scaled once, by the base's optimizer; the
twin's gradients are rescaled to the twin optimizer's own loss scale before it
unscales them (as `jax_step` does).
"""

import keras
import torch

from keras_tna.backend.common import SingleDevice, stateful_test_step


class TorchSteps(SingleDevice):
    """TwinModel's steps on PyTorch (see `keras_tna.backend`)."""

    def train_step(self, model, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        train_twin = not model.freeze_twin
        base_logits = model.base(x, training=True)
        twin_logits = model.twin(x, training=train_twin)
        model.zero_grad()  # clears `.grad` left by the previous step
        terms = model.compute_twin_losses(y, base_logits, twin_logits, sample_weight)
        base_scale, rescale = model.optimizer.loss_scales()
        (terms["loss"] * base_scale).backward()
        variables = model.trainable_variables
        with torch.no_grad():
            gradients = model.optimizer.rescale_twin(
                [v.value.grad for v in variables], rescale
            )
            model.optimizer.apply(gradients, variables)
            return model.update_twin_metrics(
                _detached(terms), y, base_logits.detach(), twin_logits.detach(),
                sample_weight,
            )

    def test_step(self, model, data):
        return stateful_test_step(model, data)

    def compile_fn(self, fn, static_argnames=()):
        """`fn` as it is: PyTorch runs eagerly."""
        return fn

    def assert_labels(self, model, y, num_classes, marker):
        """Checks class-id labels on the host: three scalars leave the device."""
        flat = torch.reshape(y, (-1,))
        if torch.is_floating_point(flat):
            whole = torch.all(flat == torch.floor(flat))
        else:
            whole = torch.tensor(True, device=flat.device)
        low, high = torch.min(flat), torch.max(flat)
        low, high, whole = (
            torch.stack([low.double(), high.double(), whole.double()]).tolist()
        )
        if not (whole and low >= 0 and high < num_classes):
            raise ValueError(
                f"[{marker}] [{int(num_classes)}] [{low:g}] [{high:g}] [{int(whole)}]"
            )
        return y


def _detached(terms):
    return {name: value.detach() for name, value in terms.items()}


STEPS = TorchSteps()
