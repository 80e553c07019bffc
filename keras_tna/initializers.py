"""Initializers by name, beside keras' own: PyTorch's defaults; seeded builds.

The one definition of `"torch_default"`, used by the networks
(`keras_tna.models.convnet`) and by a run's `--kernel_initializer`.
PyTorch initialises `nn.Conv2d` and `nn.Linear` kernels with
`kaiming_uniform(a=sqrt(5))`, i.e. U(-b, b) with b = 1 / sqrt(fan_in), and their
biases with U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
"""

import contextlib
import math
import random

# PyTorch's default kernel initializer as a keras VarianceScaling config:
# scale 1/3, fan_in, uniform gives U(-b, b) with b = sqrt(3 * scale / fan_in).
TORCH_DEFAULT = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0 / 3.0, "mode": "fan_in", "distribution": "uniform"},
}

KERNEL_INITIALIZERS = {"torch_default": TORCH_DEFAULT}


def kernel_initializer(name):
    """The kernel initializer for a name: keras' own, or `KERNEL_INITIALIZERS`.

    Args:
        name: str. E.g. `"he_normal"`, `"glorot_uniform"`, `"torch_default"`.

    Returns:
        A `keras.initializers.Initializer`.

    Raises:
        ValueError: the name is neither a keras initializer nor ours.

    Examples:

    >>> kernel_initializer("torch_default").scale
    0.3333333333333333
    """
    import keras  # here: checking a run's settings must not load TensorFlow

    spec = KERNEL_INITIALIZERS.get(name, name)
    try:
        initializer = keras.initializers.get(spec) if isinstance(name, str) else None
    except (ValueError, TypeError):
        initializer = None
    if initializer is None:
        raise ValueError(
            f"Unknown kernel initializer {name!r}: use a Keras initializer name "
            f"(e.g. 'he_normal', 'glorot_uniform') or one of "
            f"{sorted(KERNEL_INITIALIZERS)}. Received: kernel_initializer={name!r}"
        )
    return initializer


def torch_default_bias(fan_in):
    """PyTorch's default bias initializer for a layer with `fan_in` inputs.

    Args:
        fan_in: int. Inputs per output unit (kernel height x width x channels).

    Returns:
        A `keras.initializers.RandomUniform` over U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    Examples:

    >>> torch_default_bias(4).maxval
    0.5
    """
    import keras  # here: checking a run's settings must not load TensorFlow

    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def check_seed(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(
            f"`seed` must be an integer or None. Received: seed={seed!r}"
        )


@contextlib.contextmanager
def seed_scope(seed):
    """Makes the layers created inside draw their initializer seeds from `seed`.

    Keras gives every unseeded initializer a seed drawn from Python's `random`
    module when the initializer is created, so seeding that module while the
    network is built makes the whole initialisation a function of `seed`
    (keras-cv backbones included). Python's random state is restored on exit.
    `seed=None` leaves the global state alone: every build differs.
    """
    check_seed(seed)
    if seed is None:
        yield
        return
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)
