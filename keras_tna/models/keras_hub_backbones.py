"""Classifiers on keras-hub image backbones built from explicit arguments (offline).

keras-hub (`pip install 'keras_tna[hub]'`) is the maintained successor of
keras-cv. Its presets (`from_preset`) download configuration and weights, so
they are refused here: a backbone class of `keras_hub.models` is built from its
constructor arguments, with random weights. keras-hub is imported only when a
`"keras_hub:<BackboneClass>"` network is built.
"""

import inspect

import keras

from keras_tna.models import _common
from keras_tna.network_names import KERAS_HUB_PREFIX

_PIP = "pip install 'keras_tna[hub]'  (or: pip install keras-hub)"
# The argument through which an image backbone takes its input shape.
_SHAPE_ARGUMENTS = ("image_shape", "input_shape")


def _keras_hub():
    try:
        import keras_hub
    except ImportError as error:
        raise ImportError(
            "'keras_hub:<BackboneClass>' networks need the optional keras-hub "
            f"package: {_PIP}. Received: ImportError({error})"
        ) from error
    return keras_hub


def _shape_argument(cls):
    parameters = inspect.signature(cls.__init__).parameters
    return next((a for a in _SHAPE_ARGUMENTS if a in parameters), None)


def backbone_classes():
    """Names of the keras-hub backbone classes that take an image shape.

    Returns:
        Sorted list of str (needs keras-hub installed).

    Examples:

    ```python
    from keras_tna.models import keras_hub_backbones

    keras_hub_backbones.backbone_classes()  # ['CSPNetBackbone', ..., 'ViTBackbone']
    ```
    """
    return _common.backbone_classes(_keras_hub().models, _usable)


def _usable(attr, cls):
    return attr != "FeaturePyramidBackbone" and _shape_argument(cls) is not None


def _backbone_class(class_name):
    cls = _common.backbone_class(
        _keras_hub().models, class_name, "keras-hub", KERAS_HUB_PREFIX, _usable
    )
    if _shape_argument(cls) is None:
        raise ValueError(
            f"keras_hub.models.{class_name} takes no image shape (it is not an "
            f"image backbone): use one of {backbone_classes()}. "
            f"Received: '{KERAS_HUB_PREFIX}{class_name}'"
        )
    return cls


def _pyramid_block_layers(backbone):
    # FeaturePyramidBackbone (ResNet, MobileNet, CSPNet, ...) exposes its stage
    # outputs as `pyramid_outputs`: {"P2": tensor, "P3": tensor, ...}.
    levels = getattr(backbone, "pyramid_outputs", None) or {}
    keys = sorted(levels, key=lambda k: int(k[1:]))
    return [levels[k]._keras_history.operation.name for k in keys]


def _pool(features):
    rank = len(features.shape)
    if rank == 4:  # (batch, height, width, channels)
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(features)
    if rank == 3:  # (batch, tokens, dim), e.g. ViT: the mean over tokens
        return keras.layers.GlobalAveragePooling1D(name="avg_pool")(features)
    if rank == 2:
        return features
    raise ValueError(
        "The backbone's output must be an image feature map (4D), a token "
        f"sequence (3D) or a feature vector (2D). Received: shape {features.shape}"
    )


def hub_classifier(
    class_name,
    num_classes,
    input_shape,
    *,
    block_layers=None,
    weight_decay=0.0,
    name=None,
    **backbone_kwargs,
):
    """A classifier: a keras-hub image backbone, global average pooling, a linear layer.

    The backbone is built from `backbone_kwargs` (all its required
    constructor arguments, explicitly: nothing is downloaded) and flattened
    into the returned functional model. The layers named by `block_layers`
    (default: the stage outputs of a `FeaturePyramidBackbone` such as
    `ResNetBackbone`, shallowest first) are renamed `block_1`, `block_2`, ...;
    a backbone without pyramid outputs (e.g. `ViTBackbone`, whose
    transformer layers sit inside one encoder layer) has no blocks unless
    `block_layers` names them, so CKA and probes need `block_layers` there.
    The pooling is 2D for feature maps and the mean over tokens for token
    sequences (ViT's class token included).

    Args:
        class_name: str, an image backbone class of `keras_hub.models`, e.g.
            "ResNetBackbone" or "ViTBackbone".
        num_classes: int, number of classes (>= 2).
        input_shape: tuple of 3 ints, `(height, width, channels)`; passed as
            the backbone's `image_shape` (or `input_shape`).
        block_layers: None or callable taking the backbone and returning the
            names of its block-output layers in depth order.
        weight_decay: float, L2 penalty on every kernel with gradient
            `weight_decay * w` (`torch.optim.SGD`'s convention). On kernels of
            layers nested inside a backbone layer (ViT's encoder) it acts in
            training but is not saved in `.keras` files.
        name: str, the model's name (default: the class name, lower case).
        **backbone_kwargs: the backbone's constructor arguments; `preset`,
            `load_weights` and the image shape are refused.

    Returns:
        A functional `keras.Model` mapping images to float32 logits.

    Examples:

    ```python
    model = keras_tna.models.build(
        "keras_hub:ResNetBackbone", 10, (32, 32, 3),
        input_conv_filters=[64], input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 128], stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2], block_type="basic_block",
    )
    vit = keras_tna.models.build(
        "keras_hub:ViTBackbone", 10, (32, 32, 3),
        patch_size=8, num_layers=2, num_heads=2, hidden_dim=64, mlp_dim=128,
    )
    ```
    """
    cls = _backbone_class(class_name)
    shape_argument = _shape_argument(cls)
    _common.refuse_arguments(f"{KERAS_HUB_PREFIX}{class_name}", backbone_kwargs, (
        ("preset", "presets download weights and fail offline"),
        ("load_weights", "presets download weights and fail offline"),
        ("weights", "presets download weights and fail offline"),
        (shape_argument, "it is build()'s third argument"),
        ("kernel_initializer", "keras-hub backbones choose their own initializers"),
    ))
    try:
        backbone = cls(**{shape_argument: tuple(input_shape)}, **backbone_kwargs)
    except (TypeError, ValueError) as error:
        raise type(error)(
            f"keras_hub.models.{class_name} could not be built from the "
            f"arguments {sorted(backbone_kwargs)}; pass its constructor "
            f"arguments explicitly (see keras_hub.models.{class_name}). "
            f"Received: {error}"
        ) from error
    if not isinstance(backbone.input, keras.KerasTensor):
        raise ValueError(
            f"keras_hub.models.{class_name} takes several inputs; only image "
            f"backbones with one image input are supported. Received: inputs "
            f"{backbone.input}"
        )

    finder = _pyramid_block_layers if block_layers is None else block_layers
    return _common.classifier_on(
        backbone,
        finder(backbone),
        _pool,
        num_classes,
        weight_decay,
        name=name or class_name.lower(),
    )
