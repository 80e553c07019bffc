"""MobileNetV2 (Sandler et al. 2018) in its usual small-image (CIFAR) variant."""

import keras

from keras_tna.models import _common

# (expansion, out_channels, blocks, stride) per stage. Sandler et al.'s Table 2
# with the small-image change of kuangliu/pytorch-cifar: the stem conv has
# stride 1 (not 2) and the second stage stride 1 (not 2), so a 32x32 image
# ends at 4x4.
_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _inverted_residual(settings, x, expansion, filters, strides, name):
    in_channels = x.shape[-1]
    hidden = expansion * in_channels
    y = settings.conv(hidden, 1, name=f"{name}_expand")(x)
    y = settings.batch_norm(f"{name}_expand_bn")(y)
    y = keras.layers.ReLU(name=f"{name}_expand_relu")(y)
    if strides == 1:
        y = settings.depthwise_conv(3, name=f"{name}_depthwise")(y)
    else:
        y = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(y)
        y = settings.depthwise_conv(
            3, strides=strides, padding="valid", name=f"{name}_depthwise"
        )(y)
    y = settings.batch_norm(f"{name}_depthwise_bn")(y)
    y = keras.layers.ReLU(name=f"{name}_depthwise_relu")(y)
    y = settings.conv(filters, 1, name=f"{name}_project")(y)
    if strides != 1:
        # No residual connection: the block's output is the projection.
        return settings.batch_norm(name)(y)
    y = settings.batch_norm(f"{name}_project_bn")(y)
    shortcut = x
    if in_channels != filters:
        shortcut = settings.conv(filters, 1, name=f"{name}_shortcut_conv")(x)
        shortcut = settings.batch_norm(f"{name}_shortcut_bn")(shortcut)
    return keras.layers.Add(name=name)([y, shortcut])


def mobilenetv2(
    num_classes,
    input_shape,
    *,
    kernel_initializer="he_normal",
    weight_decay=0.0,
    name="mobilenetv2",
):
    """MobileNetV2 for small images, as in kuangliu/pytorch-cifar.

    A 3x3 stride-1 stem conv (32 filters), 17 inverted-residual blocks
    (Sandler et al.'s Table 2 with the second stage at stride 1), a 1x1 conv
    to 1280 channels, global average pooling and a linear layer. It follows
    kuangliu's CIFAR model, which the paper's numbers are comparable to, in
    three details that differ from Sandler et al.: ReLU instead of ReLU6, an
    expansion conv also in the first block (expansion 1), and a 1x1 conv +
    BatchNorm shortcut on the stride-1 blocks that change the number of
    channels (Sandler et al. have no residual there). 2,296,922 trainable
    parameters for 10 classes.

    Blocks (`block_names`): `block_1` ... `block_17` are the inverted-residual
    block outputs, `block_18` the 1280-channel conv stage before the pooling.

    Args:
        num_classes: int, number of classes (>= 2).
        input_shape: tuple of 3 ints, `(height, width, channels)`, at least
            8x8 (three stride-2 stages).
        kernel_initializer: str or `keras.initializers.Initializer`, for the
            conv, depthwise and linear kernels (default "he_normal").
        weight_decay: float, L2 penalty on the kernels with gradient
            `weight_decay * w` (`torch.optim.SGD`'s convention).
        name: str, the model's name.

    Returns:
        A functional `keras.Model` mapping images to float32 logits.

    Examples:

    ```python
    model = keras_tna.models.build("mobilenetv2", 100, (32, 32, 3))
    ```
    """
    _common.check_min_size(name, input_shape, 8, "it has three stride-2 stages")
    settings = _common.LayerSettings(kernel_initializer, weight_decay)

    inputs = keras.Input(input_shape, name="images")
    x = settings.conv(32, 3, name="stem_conv")(inputs)
    x = settings.batch_norm("stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    block = 0
    for expansion, filters, blocks, stride in _STAGES:
        for i in range(blocks):
            block += 1
            x = _inverted_residual(
                settings, x, expansion, filters, stride if i == 0 else 1,
                f"block_{block}",
            )
    block += 1
    x = settings.conv(1280, 1, name=f"block_{block}_conv")(x)
    x = settings.batch_norm(f"block_{block}_bn")(x)
    x = keras.layers.ReLU(name=f"block_{block}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = settings.logits(num_classes)(x)
    return keras.Model(inputs, outputs, name=name)
