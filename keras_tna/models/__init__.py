"""The paper's networks, built by name: `build`, `available`, `block_names`.

Every network is a functional `keras.Model` from images to float32 logits
(no softmax); its final layer is named "logits" and its residual-block (or
stage) outputs are layers named `block_1`, `block_2`, ... in depth order.
"""

import inspect
import re

import keras

from keras_tna import initializers
from keras_tna.network_names import KERAS_CV_PREFIX, KERAS_HUB_PREFIX
from keras_tna.models import _common, layers
from keras_tna.models.applications import imagenet_resnet50
from keras_tna.models.convnet import convnet
from keras_tna.models.flops import count_macs
from keras_tna.models.keras_cv_backbones import classifier_on_backbone
from keras_tna.models.keras_hub_backbones import hub_classifier
from keras_tna.models.mobilenetv2 import mobilenetv2
from keras_tna.models.resnet import (
    resnet18,
    resnet34,
    resnet50,
    wide_resnet18,
    wide_resnet18_2x,
    wide_resnet18_4x,
)
from keras_tna.models.vit import vision_transformer, vit_s16

# The one mapping from network names to builders.
REGISTRY = {
    "convnet": convnet,
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "wide_resnet18": wide_resnet18,
    "wide_resnet18_2x": wide_resnet18_2x,
    "wide_resnet18_4x": wide_resnet18_4x,
    "mobilenetv2": mobilenetv2,
    "imagenet_resnet50": imagenet_resnet50,
    "vit": vision_transformer,
    "vit_s16": vit_s16,
}

_BLOCK_NAME = re.compile(r"block_([1-9][0-9]*)")


def available():
    """Names of the registry's networks, accepted by `build`.

    `build` also takes `"keras_hub:<BackboneClass>"` and
    `"keras_cv:<BackboneClass>"`, which are not listed.

    Returns:
        Sorted list of str.

    Examples:

    ```python
    keras_tna.models.available()  # ['convnet', 'imagenet_resnet50', ...]
    ```
    """
    return sorted(REGISTRY)


def _builder(name):
    if not isinstance(name, str):
        raise TypeError(f"The network name must be a str. Received: {name!r}")
    if name.startswith(KERAS_CV_PREFIX):
        class_name = name[len(KERAS_CV_PREFIX):]

        def build_keras_cv(num_classes, input_shape, **kwargs):
            return classifier_on_backbone(
                class_name, num_classes, input_shape, **kwargs
            )

        return build_keras_cv
    if name.startswith(KERAS_HUB_PREFIX):
        class_name = name[len(KERAS_HUB_PREFIX):]

        def build_keras_hub(num_classes, input_shape, **kwargs):
            return hub_classifier(class_name, num_classes, input_shape, **kwargs)

        return build_keras_hub
    if name not in REGISTRY:
        raise ValueError(
            f"Unknown network '{name}'. Known networks: {available()}, or "
            f"'{KERAS_HUB_PREFIX}<BackboneClass>' / "
            f"'{KERAS_CV_PREFIX}<BackboneClass>' for a keras-hub / keras-cv "
            f"backbone built from explicit arguments. Received: name={name!r}"
        )
    return REGISTRY[name]


def _check_kwargs(name, builder, kwargs):
    parameters = inspect.signature(builder).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [
        p.name for p in parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.name != "name"
    ]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError(
            f"Network '{name}' does not take {unknown}; it takes "
            f"{sorted(accepted + ['seed'])}. Received: {sorted(kwargs)}"
        )
    missing = [
        p.name for p in parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.default is p.empty and p.name not in kwargs
    ]
    if missing:
        raise TypeError(
            f"Network '{name}' needs the keyword argument(s) {missing}, "
            f"e.g. build('wide_resnet18', 100, (32, 32, 3), width=2)."
        )


def build(name, num_classes, input_shape, *, seed=None, **kwargs):
    """Builds a network of the registry (or on a keras-hub/keras-cv backbone) by name.

    Args:
        name: str, one of `available()`; or `"keras_hub:<BackboneClass>"` for
            an image backbone class of `keras_hub.models` (optional extra
            `keras_tna[hub]`), or `"keras_cv:<BackboneClass>"` for a backbone
            class of `keras_cv.models`, each built from explicit constructor
            arguments (passed in `kwargs`; presets are refused).
        num_classes: int, number of classes (>= 2).
        input_shape: tuple of 3 ints, `(height, width, channels)`.
        seed: None or int. Equal seeds give identical initial weights,
            different seeds different ones (TNA's base and twin need
            different ones); None draws a fresh initialisation.
        **kwargs: the builder's own arguments: `weight_decay` (all; an L2
            penalty on the kernels whose gradient is `weight_decay * w`, as
            `torch.optim.SGD(weight_decay=...)`), `kernel_initializer` (the
            networks written here), `width` (`wide_resnet18`), `patch_size`,
            `dim`, `depth`, `num_heads`, `mlp_dim` (`vit`), or the
            keras-hub / keras-cv backbone's constructor arguments.

    Returns:
        A functional `keras.Model` from images to float32 logits, with block
        layers `block_1`, `block_2`, ... and a final layer named "logits".

    Examples:

    ```python
    base = keras_tna.models.build("resnet18", 10, (32, 32, 3), seed=0)
    twin = keras_tna.models.build("resnet18", 10, (32, 32, 3), seed=1)
    wide = keras_tna.models.build("wide_resnet18", 100, (32, 32, 3), width=2)
    cv = keras_tna.models.build(
        "keras_cv:ResNetBackbone", 10, (32, 32, 3),
        stackwise_filters=[64, 128], stackwise_blocks=[2, 2],
        stackwise_strides=[1, 2], block_type="basic_block",
    )
    ```
    """
    builder = _builder(name)
    _common.check_num_classes(num_classes)
    input_shape = _common.check_input_shape(input_shape)
    initializers.check_seed(seed)
    if "weight_decay" in kwargs:
        _common.check_weight_decay(kwargs["weight_decay"])
    _check_kwargs(name, builder, kwargs)
    with initializers.seed_scope(seed):
        return builder(num_classes, input_shape, **kwargs)


def block_names(model):
    """Names of the layers whose outputs are the model's block outputs.

    The networks of `build` name their residual-block (or stage) output
    layers `block_1`, `block_2`, ... ; a model of your own can do the same.
    The logits layer ("logits") is not included.

    Args:
        model: `keras.Model` with top-level layers named `block_<n>`.

    Returns:
        List of str, `["block_1", ..., "block_<n>"]`, shallowest first.

    Examples:

    ```python
    model = keras_tna.models.build("resnet18", 10, (32, 32, 3))
    names = keras_tna.models.block_names(model)  # ['block_1', ..., 'block_8']
    features = keras.Model(
        model.inputs, [model.get_layer(n).output for n in names]
    )
    ```
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"block_names() takes a keras.Model. Received: {type(model).__name__}"
        )
    numbers = sorted(
        int(match.group(1))
        for match in (_BLOCK_NAME.fullmatch(layer.name) for layer in model.layers)
        if match
    )
    if not numbers:
        raise ValueError(
            f"Model '{model.name}' has no layers named block_1, block_2, ...: "
            "build it with keras_tna.models.build, or name the layers whose "
            "outputs are its block outputs block_1, block_2, ..."
        )
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(
            f"Model '{model.name}' has block layers numbered {numbers}; they "
            "must be numbered 1, 2, ... without gaps."
        )
    return [f"block_{n}" for n in numbers]


__all__ = ["REGISTRY", "available", "block_names", "build", "count_macs", "layers"]
