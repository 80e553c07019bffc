"""A run's learning-rate schedule and optimizer, from plain values."""

import math

import keras

from keras_tna import settings


def learning_rate_schedule(
    learning_rate, steps_per_epoch, epochs, schedule="cosine", warmup_epochs=0.0
):
    """The learning rate of a run: cosine or constant, after a linear warm-up.

    The cosine schedule decays from `learning_rate` to 0 over the training
    steps that follow a linear warm-up from 0 over `warmup_epochs`.
    `"cosine_epoch"` is PyTorch's `CosineAnnealingLR(T_max=epochs)` stepped
    once per epoch, as in the paper's code: epoch `e` trains at
    `learning_rate * (1 + cos(pi * e / epochs)) / 2` (no warm-up).

    Args:
        learning_rate: float. Peak learning rate.
        steps_per_epoch: int. Optimizer steps per epoch.
        epochs: int. Training epochs.
        schedule: str. `"cosine"`, `"cosine_epoch"` or `"constant"`.
        warmup_epochs: float. Length of the linear warm-up.

    Returns:
        A `keras.optimizers.schedules.LearningRateSchedule`, or a float.

    Examples:

    >>> rate = learning_rate_schedule(0.1, steps_per_epoch=10, epochs=2)
    >>> round(float(rate(10)), 4)  # half-way: cos(pi / 2)
    0.05
    >>> rate = learning_rate_schedule(0.1, 10, 2, schedule="cosine_epoch")
    >>> [round(float(rate(step)), 4) for step in (0, 9, 10, 19)]
    [0.1, 0.1, 0.05, 0.05]
    """
    settings.check("schedule", schedule)
    total = int(steps_per_epoch) * int(epochs)
    warmup = int(round(warmup_epochs * steps_per_epoch))
    if schedule == "cosine_epoch":
        if warmup:
            raise ValueError(
                'schedule="cosine_epoch" has no warm-up (the paper\'s code has '
                'none): use schedule="cosine" or warmup_epochs=0. Received: '
                f"warmup_epochs={warmup_epochs}"
            )
        values = [
            learning_rate * 0.5 * (1.0 + math.cos(math.pi * e / epochs))
            for e in range(int(epochs))
        ]
        if len(values) == 1:
            return learning_rate
        # Step k trains in epoch k // steps_per_epoch: the rate changes after
        # the last step of each epoch.
        boundaries = [int(steps_per_epoch) * e - 1 for e in range(1, int(epochs))]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    if schedule == "cosine":
        if warmup:
            return keras.optimizers.schedules.CosineDecay(
                0.0,
                decay_steps=max(1, total - warmup),
                warmup_target=learning_rate,
                warmup_steps=warmup,
            )
        return keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=max(1, total)
        )
    if warmup:
        return keras.optimizers.schedules.PolynomialDecay(
            0.0, warmup, end_learning_rate=learning_rate, power=1.0
        )
    return learning_rate


def make_optimizer(
    name,
    learning_rate,
    steps_per_epoch,
    epochs,
    schedule="cosine",
    warmup_epochs=0.0,
    momentum=0.9,
    nesterov=False,
    weight_decay=0.0,
):
    """Returns the optimizer of a run, with its `learning_rate_schedule`.

    Args:
        name: str. `"sgd"`, `"adam"` or `"adamw"`.
        learning_rate: float. Peak learning rate.
        steps_per_epoch: int. Optimizer steps per epoch.
        epochs: int. Training epochs.
        schedule: str. `"cosine"`, `"cosine_epoch"` or `"constant"`.
        warmup_epochs: float. Length of the linear warm-up.
        momentum: float. SGD momentum.
        nesterov: bool. Nesterov momentum (SGD).
        weight_decay: float. Decoupled weight decay, used by `"adamw"` only
            (SGD and Adam get theirs as an L2 penalty from the network).

    Returns:
        A `keras.optimizers.Optimizer`.

    Examples:

    >>> opt = make_optimizer("sgd", 0.1, steps_per_epoch=10, epochs=2)
    >>> type(opt).__name__
    'SGD'
    """
    settings.check("optimizer", name)
    rate = learning_rate_schedule(
        learning_rate, steps_per_epoch, epochs, schedule, warmup_epochs
    )
    if name == "sgd":
        return keras.optimizers.SGD(rate, momentum=momentum, nesterov=nesterov)
    if name == "adam":
        return keras.optimizers.Adam(rate)
    return keras.optimizers.AdamW(rate, weight_decay=weight_decay)
