"""TwinModel's training and evaluation steps on the PyTorch backend.

Both networks run forward, one `backward()` over the whole objective fills
every trainable variable's `.grad`, and each optimizer applies only its own
network's gradients (`model.base_optimizer` the base's, `model.twin_optimizer`
the twin's, as in TensorFlow's step). Under mixed precision the
loss is scaled once, by the base's optimizer; the twin's gradients are
rescaled to the twin optimizer's own loss scale before it unscales them.
"""

import keras
import torch


class TorchSteps:
    """TwinModel's steps on PyTorch (see `keras_tna.backend`)."""

    def train_step(self, model, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        train_twin = not model.freeze_twin
        base_logits = model.base(x, training=True)
        twin_logits = model.twin(x, training=train_twin)
        model.zero_grad()  # clears `.grad` left by the previous step
        terms = model.compute_twin_losses(y, base_logits, twin_logits, sample_weight)
        pairs = [(model.base_optimizer, model.base)]
        if train_twin:
            pairs.append((model.twin_optimizer, model.twin))
        base_scale = model.base_optimizer.scale_loss(1.0)
        (terms["loss"] * base_scale).backward()
        with torch.no_grad():
            for optimizer, network in pairs:
                variables = network.trainable_variables
                gradients = [v.value.grad for v in variables]
                if optimizer is not model.base_optimizer:
                    rescale = optimizer.scale_loss(1.0) / base_scale
                    gradients = [_times(g, rescale) for g in gradients]
                optimizer.apply(gradients, variables)
            return model.update_twin_metrics(
                _detached(terms), y, base_logits.detach(), twin_logits.detach(),
                sample_weight,
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
        if not model.optimizer.built:
            model.optimizer.build(model.base.trainable_variables)
        if not model.freeze_twin and not model.twin_optimizer.built:
            model.twin_optimizer.build(model.twin.trainable_variables)

    def num_replicas(self):
        return 1

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


def _times(gradient, factor):
    return None if gradient is None else gradient * factor


def _detached(terms):
    return {name: value.detach() for name, value in terms.items()}


STEPS = TorchSteps()
