"""CIFAR-style ResNets (He et al. 2016; appendix A.2 of the paper).

The layout is the common small-image one (kuangliu/pytorch-cifar): a 3x3
stride-1 stem conv without max-pool, four stages of 64, 128, 256, 512 filters
(times `width`) with strides 1, 2, 2, 2, global average pooling and a linear
layer. Shortcuts are identity, or a 1x1 conv + BatchNorm projection where the
stride or the number of channels changes. Convs have no bias (BatchNorm
follows each). Stride-2 3x3 convs pad one pixel on every side, as PyTorch's
`padding=1` does (Keras' "same" would pad only bottom and right).
"""

import keras

from keras_tna.models import _common

_STAGE_FILTERS = (64, 128, 256, 512)
_STAGE_STRIDES = (1, 2, 2, 2)


def _conv3x3(settings, filters, strides, name, x):
    if strides == 1:
        return settings.conv(filters, 3, name=name)(x)
    x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    return settings.conv(filters, 3, strides=strides, padding="valid", name=name)(x)


def _shortcut(settings, x, filters, strides, name):
    if strides == 1 and x.shape[-1] == filters:
        return x
    x = settings.conv(filters, 1, strides=strides, name=f"{name}_shortcut_conv")(x)
    return settings.batch_norm(f"{name}_shortcut_bn")(x)


def _basic_block(settings, x, filters, strides, name):
    shortcut = _shortcut(settings, x, filters, strides, name)
    y = _conv3x3(settings, filters, strides, f"{name}_conv1", x)
    y = settings.batch_norm(f"{name}_bn1")(y)
    y = keras.layers.ReLU(name=f"{name}_relu1")(y)
    y = _conv3x3(settings, filters, 1, f"{name}_conv2", y)
    y = settings.batch_norm(f"{name}_bn2")(y)
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.ReLU(name=name)(y)


def _bottleneck_block(settings, x, filters, strides, name):
    shortcut = _shortcut(settings, x, 4 * filters, strides, name)
    y = settings.conv(filters, 1, name=f"{name}_conv1")(x)
    y = settings.batch_norm(f"{name}_bn1")(y)
    y = keras.layers.ReLU(name=f"{name}_relu1")(y)
    y = _conv3x3(settings, filters, strides, f"{name}_conv2", y)
    y = settings.batch_norm(f"{name}_bn2")(y)
    y = keras.layers.ReLU(name=f"{name}_relu2")(y)
    y = settings.conv(4 * filters, 1, name=f"{name}_conv3")(y)
    y = settings.batch_norm(f"{name}_bn3")(y)
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.ReLU(name=name)(y)


_BLOCKS = {"basic": _basic_block, "bottleneck": _bottleneck_block}


def cifar_resnet(
    num_classes,
    input_shape,
    *,
    stage_blocks,
    block_type="basic",
    width=1,
    kernel_initializer="he_normal",
    weight_decay=0.0,
    name="resnet",
):
    """A CIFAR-style ResNet: 3x3 stride-1 stem, no max-pool, four stages.

    Blocks (`block_names`): the output (after the final ReLU) of each residual
    block, `block_1` ... `block_{sum(stage_blocks)}`.

    Args:
        num_classes: int, number of classes (>= 2).
        input_shape: tuple of 3 ints, `(height, width, channels)`, at least
            8x8 (three stride-2 stages).
        stage_blocks: tuple of 4 ints, residual blocks per stage.
        block_type: "basic" (two 3x3 convs) or "bottleneck" (1x1, 3x3, 1x1
            with 4x expansion).
        width: int >= 1, multiplies every number of filters (wide ResNets).
        kernel_initializer: str or `keras.initializers.Initializer`, for the
            conv and linear kernels.
        weight_decay: float, L2 penalty on the kernels with gradient
            `weight_decay * w` (`torch.optim.SGD`'s convention).
        name: str, the model's name.

    Returns:
        A functional `keras.Model` mapping images to float32 logits.
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(
            "`width` must be a positive integer (the paper uses 1, 2 and 4). "
            f"Received: width={width!r}"
        )
    _common.check_min_size(name, input_shape, 8, "it has three stride-2 stages")
    settings = _common.LayerSettings(kernel_initializer, weight_decay)
    block_fn = _BLOCKS[block_type]

    inputs = keras.Input(input_shape, name="images")
    x = settings.conv(64 * width, 3, name="stem_conv")(inputs)
    x = settings.batch_norm("stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    block = 0
    stages = zip(_STAGE_FILTERS, _STAGE_STRIDES, stage_blocks, strict=True)
    for filters, stride, blocks in stages:
        for i in range(blocks):
            block += 1
            x = block_fn(
                settings, x, filters * width, stride if i == 0 else 1, f"block_{block}"
            )
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = settings.logits(num_classes)(x)
    return keras.Model(inputs, outputs, name=name)


_COMMON_DOC = """
    Args:
        num_classes: int, number of classes (>= 2).
        input_shape: tuple of 3 ints, `(height, width, channels)`, at least 8x8.
        kernel_initializer: str or `keras.initializers.Initializer`, for the
            conv and linear kernels (default "he_normal").
        weight_decay: float, L2 penalty on the kernels with gradient
            `weight_decay * w` (`torch.optim.SGD`'s convention; 5e-4 is usual).
        name: str, the model's name.

    Returns:
        A functional `keras.Model` mapping images to float32 logits.
"""


def resnet18(
    num_classes, input_shape, *, kernel_initializer="he_normal", weight_decay=0.0,
    name="resnet18",
):
    """CIFAR-style ResNet-18: basic blocks (2, 2, 2, 2), blocks `block_1`..`block_8`.
    {doc}
    Examples:

    ```python
    model = keras_tna.models.build("resnet18", 10, (32, 32, 3), seed=0)
    model.count_params()  # 11,183,562 (11,173,962 trainable + 9,600 BN statistics)
    ```
    """
    return cifar_resnet(
        num_classes, input_shape, stage_blocks=(2, 2, 2, 2), block_type="basic",
        kernel_initializer=kernel_initializer, weight_decay=weight_decay, name=name,
    )


def resnet34(
    num_classes, input_shape, *, kernel_initializer="he_normal", weight_decay=0.0,
    name="resnet34",
):
    """CIFAR-style ResNet-34: basic blocks (3, 4, 6, 3), `block_1`..`block_16`.
    {doc}
    Examples:

    ```python
    model = keras_tna.models.build("resnet34", 200, (64, 64, 3))
    ```
    """
    return cifar_resnet(
        num_classes, input_shape, stage_blocks=(3, 4, 6, 3), block_type="basic",
        kernel_initializer=kernel_initializer, weight_decay=weight_decay, name=name,
    )


def resnet50(
    num_classes, input_shape, *, kernel_initializer="he_normal", weight_decay=0.0,
    name="resnet50",
):
    """CIFAR-style ResNet-50: bottleneck blocks (3, 4, 6, 3), `block_1`..`block_16`.
    {doc}
    Examples:

    ```python
    model = keras_tna.models.build("resnet50", 200, (64, 64, 3))
    ```
    """
    return cifar_resnet(
        num_classes, input_shape, stage_blocks=(3, 4, 6, 3), block_type="bottleneck",
        kernel_initializer=kernel_initializer, weight_decay=weight_decay, name=name,
    )


def wide_resnet18(
    num_classes, input_shape, *, width, kernel_initializer="he_normal",
    weight_decay=0.0, name=None,
):
    """Wide ResNet-18 (Table 4): ResNet-18 with every filter count times `width`.

    `width=1` is ResNet-18; the paper compares widths 1, 2 and 4.

    Args:
        num_classes: int, number of classes (>= 2).
        input_shape: tuple of 3 ints, `(height, width, channels)`, at least 8x8.
        width: int >= 1, the width multiplier.
        kernel_initializer: str or `keras.initializers.Initializer`, for the
            conv and linear kernels (default "he_normal").
        weight_decay: float, L2 penalty on the kernels with gradient
            `weight_decay * w` (`torch.optim.SGD`'s convention).
        name: str, the model's name (default `wide_resnet18_{width}x`).

    Returns:
        A functional `keras.Model` mapping images to float32 logits.

    Examples:

    ```python
    model = keras_tna.models.build("wide_resnet18", 100, (32, 32, 3), width=4)
    ```
    """
    return cifar_resnet(
        num_classes, input_shape, stage_blocks=(2, 2, 2, 2), block_type="basic",
        width=width, kernel_initializer=kernel_initializer,
        weight_decay=weight_decay,
        name=name or f"wide_resnet18_{width}x",
    )


def wide_resnet18_2x(
    num_classes, input_shape, *, kernel_initializer="he_normal", weight_decay=0.0,
    name="wide_resnet18_2x",
):
    """Wide ResNet-18 with width 2 (`wide_resnet18(..., width=2)`).
    {doc}"""
    return wide_resnet18(
        num_classes, input_shape, width=2, kernel_initializer=kernel_initializer,
        weight_decay=weight_decay, name=name,
    )


def wide_resnet18_4x(
    num_classes, input_shape, *, kernel_initializer="he_normal", weight_decay=0.0,
    name="wide_resnet18_4x",
):
    """Wide ResNet-18 with width 4 (`wide_resnet18(..., width=4)`).
    {doc}"""
    return wide_resnet18(
        num_classes, input_shape, width=4, kernel_initializer=kernel_initializer,
        weight_decay=weight_decay, name=name,
    )


for _fn in (resnet18, resnet34, resnet50, wide_resnet18_2x, wide_resnet18_4x):
    _fn.__doc__ = _fn.__doc__.replace("{doc}", _COMMON_DOC.strip())
del _fn
