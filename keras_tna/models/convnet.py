"""The paper's simple ConvNet (Table 10, appendix A.2)."""

import keras

from keras_tna import initializers
from keras_tna.models import _common
from keras_tna.models.layers import AdaptiveAveragePooling2D

# Table 10: the linear layer has 1600 = 5 * 5 * 64 inputs.
_POOLED_SIZE = 5

# PyTorch's default for Conv2d and Linear kernels (kaiming_uniform with
# a=sqrt(5): U(-1/sqrt(fan_in), 1/sqrt(fan_in))), which the paper's PyTorch
# ConvNet trained with. This network has no BatchNorm, so the initial scale
# decides whether SGD at the paper's learning rates trains at all: with
# "he_normal" (2.4x the standard deviation) ConvNets on digits at lr 0.05 and
# CIFAR-10 at lr 0.1 collapsed to chance in some seeds, more often in pairs.
TORCH_DEFAULT_INIT = initializers.TORCH_DEFAULT


def convnet(
    num_classes,
    input_shape,
    *,
    kernel_initializer=None,
    bias_initializer="torch_default",
    weight_decay=0.0,
    width=1.0,
    name="convnet",
):
    """The ConvNet of Table 10: four valid 3x3 convs, two average pools, a linear layer.

    Conv 16, conv 32, 2x2 average pool, conv 64, conv 64, 2x2 average pool,
    flatten, linear; ReLU after each conv. On 32x32 images the last pool gives
    5x5x64 = 1600 inputs to the linear layer. On other sizes (TinyImageNet's
    64x64) the last pool is an adaptive average pool to 5x5, as in the paper,
    so the linear layer keeps its 1600 inputs. The variant follows from
    `input_shape`; on 32x32 both variants compute the same.

    Blocks (`block_names`): `block_1` conv1, `block_2` conv2, `block_3` pool,
    `block_4` conv3, `block_5` conv4, `block_6` (adaptive) pool.

    Args:
        num_classes: int, number of classes (>= 2).
        input_shape: tuple of 3 ints, `(height, width, channels)`, at least
            22x22 (the map before the last pool must be at least 5x5).
        kernel_initializer: str, `keras.initializers.Initializer` or None, for
            the conv and linear kernels; None is PyTorch's default
            (`TORCH_DEFAULT_INIT`).
        bias_initializer: str. `"torch_default"` (PyTorch's default for
            `Conv2d` and `Linear` biases, U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
            as the paper's code) or any Keras initializer name (`"zeros"`:
            what this network used before 2026-12).
        weight_decay: float, L2 penalty on the kernels and biases with
            gradient `weight_decay * w` (`torch.optim.SGD(weight_decay=...)`,
            which decays every parameter, as the paper's code).
        width: float, multiplier of the four conv widths (16, 32, 64, 64),
            each rounded to the nearest integer; the linear layer then has
            5 * 5 * round(64 * width) inputs. `1.0` is the paper's ConvNet;
            `1.45` (23, 46, 93, 93 filters) has 1.96x its parameters and
            2.06x its FLOPs on 32x32 images, one network with TNA's training
            compute (the compute-matched comparison of Table 4, on the ConvNet).
        name: str, the model's name.

    Returns:
        A functional `keras.Model` mapping images to float32 logits.

    Examples:

    ```python
    model = keras_tna.models.build("convnet", 10, (32, 32, 3))
    model = keras_tna.models.build("convnet", 200, (64, 64, 3))  # TinyImageNet
    wide = keras_tna.models.build("convnet", 10, (32, 32, 3), width=1.45)
    ```
    """
    # conv1, conv2 (valid 3x3) lose 4 pixels, the pool halves, conv3, conv4
    # lose 4: the map before the last pool is at least 5x5 from 22x22 up.
    _common.check_min_size(
        "convnet", input_shape, 22, "the map before the last pool must be at least 5x5"
    )
    rows, cols, _ = input_shape
    last = ((rows - 4) // 2 - 4, (cols - 4) // 2 - 4)
    if kernel_initializer is None:
        kernel_initializer = dict(TORCH_DEFAULT_INIT)
    if not isinstance(bias_initializer, str):
        raise TypeError(
            "`bias_initializer` must be a string ('torch_default' or a Keras "
            f"initializer name). Received: bias_initializer={bias_initializer!r}"
        )
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not (
        0 < width <= 64
    ):
        raise ValueError(
            "`width` must be a number in (0, 64], the multiplier of the conv "
            f"widths (1.0 is the paper's ConvNet). Received: width={width!r}"
        )
    c1, c2, c3, c4 = (max(1, round(c * width)) for c in (16, 32, 64, 64))
    settings = _common.LayerSettings(kernel_initializer, weight_decay)

    def bias(fan_in):
        if bias_initializer != "torch_default":
            return keras.initializers.get(bias_initializer)
        return initializers.torch_default_bias(fan_in)

    def conv(filters, block, in_channels):
        return settings.conv(
            filters,
            3,
            padding="valid",
            use_bias=True,
            activation="relu",
            bias_initializer=bias(9 * in_channels),
            bias_regularizer=settings.regularizer(),
            name=f"block_{block}",
        )

    inputs = keras.Input(input_shape, name="images")
    x = conv(c1, 1, input_shape[-1])(inputs)
    x = conv(c2, 2, c1)(x)
    x = keras.layers.AveragePooling2D(2, name="block_3")(x)
    x = conv(c3, 4, c2)(x)
    x = conv(c4, 5, c3)(x)
    if last == (2 * _POOLED_SIZE, 2 * _POOLED_SIZE):
        x = keras.layers.AveragePooling2D(2, name="block_6")(x)
    else:
        x = AdaptiveAveragePooling2D(_POOLED_SIZE, name="block_6")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = settings.logits(
        num_classes,
        bias_initializer=bias(_POOLED_SIZE * _POOLED_SIZE * c4),
        bias_regularizer=settings.regularizer(),
    )(x)
    return keras.Model(inputs, outputs, name=name)
