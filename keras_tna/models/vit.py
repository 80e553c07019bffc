"""Plain Vision Transformer, ViT-S/16 of Beyer et al. (2022), "Better plain ViT
baselines for ImageNet-1k", after big_vision's `vit.py` and `vit_s16_i1k.py`."""

import keras

from keras_tna.models import _common
from keras_tna.models.layers import SinCos2DPositionEmbedding, gelu_tanh

_LN_EPSILON = 1e-6  # flax's LayerNorm default, used by big_vision


def vision_transformer(
    num_classes,
    input_shape,
    *,
    patch_size=16,
    dim=384,
    depth=12,
    num_heads=6,
    mlp_dim=1536,
    kernel_initializer=None,
    weight_decay=0.0,
    name="vit",
):
    """A plain ViT: patch conv, fixed 2D sin-cos position embedding, pre-norm
    encoder blocks, final LayerNorm, global average pooling, a tanh pre-logits
    layer and a zero-initialised linear head (big_vision with `pool_type="gap"`,
    `posemb="sincos2d"`, `rep_size=True`, `head_zeroinit=True`). No class
    token, no dropout.

    The defaults are ViT-S/16; smaller settings suit small images and tests.

    Blocks (`block_names`): the output of each encoder block (after its MLP
    residual add), `block_1` ... `block_{depth}`, shaped
    `(batch, tokens, dim)`.

    Args:
        num_classes: int, number of classes (>= 2).
        input_shape: tuple of 3 ints, `(height, width, channels)`, at least
            `patch_size` on each side (the patch grid is
            `floor(side / patch_size)`, as with a "valid" conv).
        patch_size: int, side of the square patches.
        dim: int, token width (a multiple of 4 and of `num_heads`).
        depth: int, number of encoder blocks.
        num_heads: int, attention heads.
        mlp_dim: int, hidden width of the MLPs.
        kernel_initializer: None, str or `keras.initializers.Initializer`.
            None keeps big_vision's initializers (LeCun normal for the patch
            conv, Glorot uniform for attention, MLP and pre-logits kernels);
            otherwise it replaces them all. The head always starts at zero.
        weight_decay: float, L2 penalty on the kernels with gradient
            `weight_decay * w`.
        name: str, the model's name.

    Returns:
        A functional `keras.Model` mapping images to float32 logits.

    Examples:

    ```python
    # A small ViT for 32x32 images: 64 tokens of width 192.
    model = keras_tna.models.build(
        "vit", 10, (32, 32, 3), patch_size=4, dim=192, depth=6, num_heads=3,
        mlp_dim=768,
    )
    ```
    """
    for arg, value in (("patch_size", patch_size), ("dim", dim), ("depth", depth),
                       ("num_heads", num_heads), ("mlp_dim", mlp_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"`{arg}` must be a positive integer. Received: {arg}={value!r}"
            )
    if dim % num_heads or dim % 4:
        raise ValueError(
            "`dim` must be a multiple of `num_heads` and of 4 (sin-cos position "
            f"embedding). Received: dim={dim}, num_heads={num_heads}"
        )
    _common.check_min_size(
        name, input_shape, patch_size, f"one {patch_size}x{patch_size} patch"
    )
    patch_settings = _common.LayerSettings(
        kernel_initializer or "lecun_normal", weight_decay
    )
    settings = _common.LayerSettings(
        kernel_initializer or "glorot_uniform", weight_decay
    )

    inputs = keras.Input(input_shape, name="images")
    x = patch_settings.conv(
        dim, patch_size, strides=patch_size, padding="valid", use_bias=True,
        name="patch_embedding",
    )(inputs)
    x = SinCos2DPositionEmbedding(name="position_embedding")(x)
    for i in range(1, depth + 1):
        y = keras.layers.LayerNormalization(
            epsilon=_LN_EPSILON, name=f"block_{i}_attention_norm"
        )(x)
        y = keras.layers.MultiHeadAttention(
            num_heads,
            dim // num_heads,
            kernel_initializer=settings.initializer(),
            kernel_regularizer=settings.regularizer(),
            name=f"block_{i}_attention",
        )(y, y)
        x = keras.layers.Add(name=f"block_{i}_attention_add")([x, y])
        y = keras.layers.LayerNormalization(
            epsilon=_LN_EPSILON, name=f"block_{i}_mlp_norm"
        )(x)
        y = settings.dense(
            mlp_dim, activation=gelu_tanh,
            bias_initializer=keras.initializers.RandomNormal(stddev=1e-6),
            name=f"block_{i}_mlp_dense1",
        )(y)
        y = settings.dense(
            dim, bias_initializer=keras.initializers.RandomNormal(stddev=1e-6),
            name=f"block_{i}_mlp_dense2",
        )(y)
        x = keras.layers.Add(name=f"block_{i}")([x, y])
    x = keras.layers.LayerNormalization(epsilon=_LN_EPSILON, name="encoder_norm")(x)
    x = keras.layers.GlobalAveragePooling1D(name="avg_pool")(x)
    x = settings.dense(dim, activation="tanh", name="pre_logits")(x)
    outputs = settings.logits(num_classes, kernel_initializer="zeros")(x)
    return keras.Model(inputs, outputs, name=name)


def vit_s16(
    num_classes, input_shape, *, kernel_initializer=None, weight_decay=0.0,
    name="vit_s16",
):
    """ViT-S/16 (Beyer et al. 2022): patch 16, width 384, depth 12, 6 heads, MLP 1536.

    See `vision_transformer`. 22,122,472 parameters for 1000 classes (all
    trainable; the position embedding is fixed).

    Args:
        num_classes: int, number of classes (>= 2).
        input_shape: tuple of 3 ints, `(height, width, channels)`, at least
            16x16; 224x224 on ImageNet.
        kernel_initializer: None (big_vision's initializers), str or
            `keras.initializers.Initializer`.
        weight_decay: float, L2 penalty on the kernels with gradient
            `weight_decay * w`.
        name: str, the model's name.

    Returns:
        A functional `keras.Model` mapping images to float32 logits.

    Examples:

    ```python
    model = keras_tna.models.build("vit_s16", 1000, (224, 224, 3))
    ```
    """
    return vision_transformer(
        num_classes, input_shape, patch_size=16, dim=384, depth=12, num_heads=6,
        mlp_dim=1536, kernel_initializer=kernel_initializer,
        weight_decay=weight_decay, name=name,
    )
