"""The networks a run trains: the base, its twin, and the compiled model.

`build_and_compile` builds the base from the run's settings, the twin as the
method asks (a second network of its own seed, the base with some layers
re-initialised, or a pretrained network loaded frozen: `load_frozen_twin`),
the optimizer, and compiles the model `fit` trains: a `TwinModel`, or the
base alone for `"single"`. `keras_tna.training.run` calls it inside the
strategy's scope.
"""

import keras
import numpy as np

from keras_tna import initializers
from keras_tna import models as tna_models
from keras_tna.runs.validation import check_twin_checkpoint
from keras_tna.settings import TWIN_SEED_OFFSET
from keras_tna.training.optimizers import make_optimizer
from keras_tna.twin_model import TwinModel
from keras_tna.twins import make_twin


def build_and_compile(config, plan, bundle, steps_per_epoch, jit_compile):
    """The model `fit` trains (a TwinModel, or the base for "single")."""
    method = config.method_spec
    network_kwargs = {
        "weight_decay": 0.0 if config.optimizer == "adamw" else config.weight_decay
    }
    if config.kernel_initializer is not None:
        network_kwargs["kernel_initializer"] = initializers.kernel_initializer(
            config.kernel_initializer
        )
    base = tna_models.build(
        config.model,
        bundle.num_classes,
        bundle.input_shape,
        seed=config.seed,
        **network_kwargs,
        **config.network_kwargs(),
    )
    twin = (
        _build_twin(
            config, plan, base, bundle.num_classes, bundle.input_shape, network_kwargs
        )
        if method.twin
        else None
    )
    optimizer = make_optimizer(
        config.optimizer,
        config.learning_rate,
        steps_per_epoch,
        plan.epochs,
        schedule=config.schedule,
        warmup_epochs=config.warmup_epochs,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
    )
    if twin is None:
        base.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[
                keras.metrics.SparseCategoricalAccuracy(name="base_accuracy"),
                keras.metrics.SparseCategoricalCrossentropy(
                    from_logits=True, name="base_loss"
                ),
            ],
            jit_compile=jit_compile,
        )
        base.optimizer.build(base.trainable_variables)
        return base, base, None
    model = TwinModel(
        base,
        twin,
        alpha=plan.alpha,
        matching=method.matching,
        temperature=config.temperature,
        freeze_twin=method.freeze_twin,
        matching_start_epoch=plan.matching_start_epoch,
    )
    model.compile(optimizer=optimizer, jit_compile=jit_compile)
    model.build_optimizers()
    return model, base, twin


def _build_twin(config, plan, base, num_classes, input_shape, network_kwargs):
    if config.method_spec.freeze_twin:
        return load_frozen_twin(config.twin_checkpoint, num_classes, input_shape)
    reinit = plan.twin_reinit
    if reinit != "all":
        return make_twin(base, reinit=reinit, seed=config.seed + TWIN_SEED_OFFSET)
    same_network = config.twin_model in (None, config.model)
    return tna_models.build(
        config.twin_model or config.model,
        num_classes,
        input_shape,
        seed=config.seed + TWIN_SEED_OFFSET,
        **network_kwargs,
        **(config.network_kwargs() if same_network else {}),
    )


def load_frozen_twin(path, num_classes, input_shape):
    """Loads a pretrained twin and checks it fits the dataset.

    Args:
        path: str. A `.keras` network (a run's `base.keras`).
        num_classes: int. The dataset's number of classes.
        input_shape: tuple. The dataset's image shape.

    Returns:
        The loaded `keras.Model`.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the network's logits or inputs have another shape.
    """
    check_twin_checkpoint(path)
    try:
        twin = keras.models.load_model(path, compile=False)
    except Exception as error:  # keras raises many types for a bad file
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ValueError(
            f"The frozen twin checkpoint {path!r} could not be loaded ({first[:200]}); "
            "pass the base.keras of a finished run. "
            f"Received: twin_checkpoint={path!r}"
        ) from None
    logits = tuple(twin.outputs[0].shape[1:])
    inputs = tuple(twin.inputs[0].shape[1:])
    if logits != (num_classes,) or inputs != tuple(input_shape):
        raise ValueError(
            f"The frozen twin {path!r} takes inputs {inputs} and outputs "
            f"logits {logits}, but the dataset has images {tuple(input_shape)} "
            f"and {num_classes} classes; pass the checkpoint of a network "
            f"trained on this dataset. Received: twin_checkpoint={path!r}"
        )
    return twin


def count_params(model):
    return int(sum(np.prod(w.shape) for w in model.weights))
