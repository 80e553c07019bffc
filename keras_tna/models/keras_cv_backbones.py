"""Classifiers on keras-cv backbones built from explicit arguments (offline).

keras-cv's presets (`from_preset`, and named aliases such as
`ResNet50Backbone`) download their configuration and weights, so they are
refused here: the backbone classes are built from their constructor
arguments, with random weights.
"""

import inspect

import keras

from keras_tna.models import _common
from keras_tna.network_names import KERAS_CV_PREFIX

_PIP = "pip install 'keras-cv>=0.9,<0.10'"


def _keras_cv():
    try:
        import keras_cv
    except ImportError as error:  # keras-cv is a dependency; a broken install.
        raise ImportError(
            f"keras-cv backbones need the keras-cv package: {_PIP}"
        ) from error
    return keras_cv


def _is_preset_alias(cls):
    # keras-cv's named aliases (ResNet50Backbone, ...) define `__new__` to
    # return `from_preset(...)`, which downloads the preset.
    return "__new__" in vars(cls)


def _usable(attr, cls):
    return not _is_preset_alias(cls)


def backbone_classes():
    """Names of the keras-cv backbone classes that build from explicit arguments."""
    return _common.backbone_classes(_keras_cv().models, _usable)


def _backbone_class(class_name):
    cls = _common.backbone_class(
        _keras_cv().models, class_name, "keras-cv", KERAS_CV_PREFIX, _usable
    )
    if _is_preset_alias(cls):
        raise ValueError(
            f"keras_cv.models.{class_name} is a preset alias: it downloads its "
            "configuration and fails offline. Use the generic class with "
            "explicit arguments, e.g. 'keras_cv:ResNetBackbone' with "
            "stackwise_filters=..., stackwise_blocks=..., stackwise_strides=.... "
            f"Received: '{KERAS_CV_PREFIX}{class_name}'"
        )
    return cls


def classifier_on_backbone(
    class_name,
    num_classes,
    input_shape,
    *,
    block_layers=None,
    weight_decay=0.0,
    name=None,
    **backbone_kwargs,
):
    """A classifier: a keras-cv backbone, global average pooling, a linear layer.

    The backbone is built from `backbone_kwargs` and flattened into the
    returned functional model, so that its layers are the model's own layers.
    The layers named by `block_layers` (default: the backbone's
    `pyramid_level_inputs`, i.e. its stage outputs, shallowest first) are
    renamed `block_1`, `block_2`, ...

    Args:
        class_name: str, a class in `keras_cv.models`, e.g. "ResNetBackbone".
        num_classes: int, number of classes (>= 2).
        input_shape: tuple of 3 ints, `(height, width, channels)`.
        block_layers: None or callable taking the backbone and returning the
            names of its block-output layers in depth order.
        weight_decay: float, L2 penalty on the kernels with gradient
            `weight_decay * w` (`torch.optim.SGD`'s convention).
        name: str, the model's name (default: the class name).
        **backbone_kwargs: the backbone's constructor arguments.
            `include_rescaling` defaults to False (keras_tna.data already
            normalises the images); presets and `input_shape` are refused.

    Returns:
        A functional `keras.Model` mapping images to float32 logits.

    Examples:

    ```python
    model = keras_tna.models.build(
        "keras_cv:ResNetBackbone", 10, (64, 64, 3),
        stackwise_filters=[64, 128, 256, 512], stackwise_blocks=[2, 2, 2, 2],
        stackwise_strides=[1, 2, 2, 2], block_type="basic_block",
    )
    ```
    """
    cls = _backbone_class(class_name)
    _common.refuse_arguments(f"{KERAS_CV_PREFIX}{class_name}", backbone_kwargs, (
        ("preset", "presets download weights and fail offline"),
        ("weights", "presets download weights and fail offline"),
        ("input_shape", "it is build()'s third argument"),
        ("input_tensor", "build() makes the input"),
        ("kernel_initializer", "keras-cv backbones choose their own initializers"),
    ))
    accepted = inspect.signature(cls.__init__).parameters
    if "include_rescaling" in accepted:
        backbone_kwargs.setdefault("include_rescaling", False)
    try:
        backbone = cls(input_shape=tuple(input_shape), **backbone_kwargs)
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"keras_cv.models.{class_name} could not be built from the "
            f"arguments {sorted(backbone_kwargs)}: {error}"
        ) from error

    if block_layers is None:
        levels = getattr(backbone, "pyramid_level_inputs", None) or {}
        names = [levels[k] for k in sorted(levels, key=lambda k: int(k[1:]))]
    else:
        names = block_layers(backbone)
    return _common.classifier_on(
        backbone,
        names,
        keras.layers.GlobalAveragePooling2D(name="avg_pool"),
        num_classes,
        weight_decay,
        name=name or class_name.lower(),
    )
