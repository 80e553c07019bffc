"""Networks on core Keras' `keras.applications`: no extra dependency.

`keras.applications` ships with Keras itself (no keras-cv, no keras-hub), is
maintained with it, and builds offline from `weights=None` (random weights).
"""

import keras

from keras_tna.models import _common


def _kernel_layers(model):
    return [
        layer for layer in model.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
    ]


def _reinitialize_kernels(model, settings):
    """Gives every conv/dense kernel `settings`' initializer, drawn afresh.

    The layer attribute is set too, so that `get_config` (and with it
    `keras_tna.make_twin` and `.keras` saving) carries the initializer.
    """
    for layer in _kernel_layers(model):
        layer.kernel_initializer = settings.initializer()
        layer.kernel.assign(
            layer.kernel_initializer(layer.kernel.shape, dtype=layer.kernel.dtype)
        )


def imagenet_resnet50(
    num_classes,
    input_shape,
    *,
    kernel_initializer=None,
    weight_decay=0.0,
    name="imagenet_resnet50",
):
    """ImageNet ResNet-50 (He et al. 2016) on `keras.applications.ResNet50`.

    `keras.applications.ResNet50(weights=None, include_top=False)` (7x7
    stride-2 stem, 3x3 max-pool, bottleneck blocks (3, 4, 6, 3) with the
    stride in the first 1x1 conv; its convs have biases, its BatchNorms
    Keras' momentum 0.99 and epsilon 1.001e-5) plus global average pooling
    and a linear layer "logits" (float32 under mixed precision): 23,587,712
    backbone parameters (53,120 of them BatchNorm statistics) plus
    `2048 * num_classes + num_classes`, i.e. 25,636,712 for 1000 classes.
    Building it imports neither keras-cv nor keras-hub.

    Blocks (`block_names`): the 16 residual-block outputs
    (`conv2_block1_out` ... `conv5_block3_out` of keras.applications,
    renamed `block_1` ... `block_16`).

    Args:
        num_classes: int, number of classes (>= 2).
        input_shape: tuple of 3 ints, `(height, width, channels)`, at least
            32x32 (total stride 32); 224x224 on ImageNet.
        kernel_initializer: None, str, dict or
            `keras.initializers.Initializer`: the initializer of every conv
            and dense kernel; None keeps keras.applications' (Glorot uniform
            for the convs, as the head).
        weight_decay: float, L2 penalty on the conv and dense kernels with
            gradient `weight_decay * w` (`torch.optim.SGD`'s convention; 1e-4
            is usual).
        name: str, the model's name.

    Returns:
        A functional `keras.Model` mapping images to float32 logits.

    Examples:

    ```python
    import keras_tna

    model = keras_tna.models.build("imagenet_resnet50", 10, (32, 32, 3), seed=0)
    print(model.count_params())  # 23,587,712 + 2048 * 10 + 10 = 23,608,202
    ```
    """
    _common.check_min_size(name, input_shape, 32, "its total stride is 32")
    settings = _common.LayerSettings(
        "glorot_uniform" if kernel_initializer is None else kernel_initializer,
        weight_decay,
    )
    backbone = keras.applications.ResNet50(
        weights=None, include_top=False, input_shape=tuple(input_shape)
    )
    blocks = [layer for layer in backbone.layers if layer.name.endswith("_out")]
    for i, layer in enumerate(blocks, start=1):
        layer.name = f"block_{i}"
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(backbone.output)
    outputs = settings.logits(num_classes)(x)
    model = keras.Model(backbone.input, outputs, name=name)
    if kernel_initializer is not None:
        _reinitialize_kernels(model, settings)
    _common.add_weight_decay(model, weight_decay)
    return model
