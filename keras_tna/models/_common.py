"""Helpers shared by the network builders: argument checks, layer settings, seeds."""

import inspect

import keras

from keras_tna import settings

# PyTorch's BatchNorm defaults (momentum 0.1 there is 0.9 in Keras' convention,
# eps 1e-5): the paper's networks were trained with them.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def check_num_classes(num_classes):
    """Raises ValueError unless `num_classes` is an int >= 2."""
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, int)
        or num_classes < 2
    ):
        raise ValueError(
            "`num_classes` must be an integer >= 2. "
            f"Received: num_classes={num_classes!r}"
        )


def check_input_shape(input_shape):
    """Returns `input_shape` as a tuple `(height, width, channels)` of ints.

    Raises ValueError unless it is three positive integers (channels last).
    """
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if (
        shape is None
        or len(shape) != 3
        or any(isinstance(d, bool) or not isinstance(d, int) for d in shape)
        or any(d < 1 for d in shape)
    ):
        raise ValueError(
            "`input_shape` must be three positive integers (height, width, "
            "channels), e.g. (32, 32, 3). "
            f"Received: input_shape={input_shape!r}"
        )
    return shape


def check_min_size(name, input_shape, min_size, why):
    """Raises ValueError if the image is smaller than `min_size` pixels."""
    height, width, _ = input_shape
    if height < min_size or width < min_size:
        raise ValueError(
            f"'{name}' needs images of at least {min_size}x{min_size} pixels "
            f"({why}); resize the images (e.g. `image_size=` in "
            f"keras_tna.data.load). Received: input_shape={tuple(input_shape)}"
        )


def check_weight_decay(weight_decay):
    settings.check("weight_decay", weight_decay)


def l2_regularizer(weight_decay):
    """The L2 penalty whose gradient is `weight_decay * w`, or None for 0.

    `keras.regularizers.L2(l2)` adds `l2 * sum(w**2)` to the loss (gradient
    `2 * l2 * w`), so `l2 = weight_decay / 2` reproduces
    `torch.optim.SGD(weight_decay=...)` on the kernels.
    """
    check_weight_decay(weight_decay)
    if weight_decay == 0:
        return None
    return keras.regularizers.L2(weight_decay / 2)


def add_weight_decay(model, weight_decay):
    """Puts the L2 penalty on every conv/dense kernel of a built model.

    On the model's own layers the layer attribute is set too, so that the
    penalty survives `get_config` and `.keras` saving. Kernels of layers
    nested inside another layer (e.g. a keras-hub ViT encoder) get the
    penalty on the variable only: it acts in training but is not saved.
    """
    regularizer = l2_regularizer(weight_decay)
    if regularizer is None:
        return
    for layer in model.layers:
        for attribute in ("kernel_regularizer", "depthwise_regularizer"):
            kernel = getattr(layer, "kernel", None)
            if hasattr(layer, attribute) and isinstance(kernel, keras.Variable):
                setattr(layer, attribute, regularizer)
                kernel.regularizer = regularizer
                break
    for variable in model.trainable_weights:
        if variable.name == "kernel" and variable.regularizer is None:
            variable.regularizer = regularizer


class LayerSettings:
    """Creates layers with a shared kernel initializer and L2 penalty.

    Every layer gets its own initializer instance, so that layers of equal
    shape are initialised differently (an integer-seeded Keras initializer
    repeats its values). Build the network inside `keras_tna.initializers.seed_scope(seed)`.

    Args:
        kernel_initializer: str, dict or `keras.initializers.Initializer`:
            the initializer of conv and dense kernels. Its own seed, if any,
            is replaced by one drawn inside `seed_scope`.
        weight_decay: float, see `l2_regularizer`.
    """

    def __init__(self, kernel_initializer="he_normal", weight_decay=0.0):
        try:
            initializer = keras.initializers.get(kernel_initializer)
        except (ValueError, TypeError):
            initializer = None
        if initializer is None or not callable(initializer):
            raise ValueError(
                "`kernel_initializer` must name a Keras initializer (e.g. "
                "'he_normal') or be a `keras.initializers.Initializer`. "
                f"Received: kernel_initializer={kernel_initializer!r}"
            )
        self._initializer_config = keras.initializers.serialize(initializer)
        self._regularizer = l2_regularizer(weight_decay)

    def initializer(self):
        """A fresh copy of the kernel initializer, with a fresh seed."""
        config = dict(self._initializer_config)
        inner = dict(config.get("config") or {})
        if "seed" in inner:
            inner["seed"] = None
        config["config"] = inner
        return keras.initializers.deserialize(config)

    def regularizer(self):
        return self._regularizer

    def conv(self, filters, kernel_size, strides=1, padding="same", **kwargs):
        kwargs.setdefault("use_bias", False)
        return keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            kernel_initializer=self.initializer(),
            kernel_regularizer=self._regularizer,
            **kwargs,
        )

    def depthwise_conv(self, kernel_size, strides=1, padding="same", **kwargs):
        return keras.layers.DepthwiseConv2D(
            kernel_size,
            strides=strides,
            padding=padding,
            use_bias=False,
            depthwise_initializer=self.initializer(),
            depthwise_regularizer=self._regularizer,
            **kwargs,
        )

    def dense(self, units, **kwargs):
        kwargs.setdefault("kernel_initializer", self.initializer())
        return keras.layers.Dense(
            units, kernel_regularizer=self._regularizer, **kwargs
        )

    def logits(self, num_classes, **kwargs):
        """The classification layer: named "logits", float32 under mixed precision."""
        return self.dense(num_classes, name="logits", dtype="float32", **kwargs)

    @staticmethod
    def batch_norm(name):
        return keras.layers.BatchNormalization(
            momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name
        )


# ------------------------------------------- backbones of keras-cv and keras-hub
def _is_backbone(models, cls):
    return (
        inspect.isclass(cls)
        and issubclass(cls, models.Backbone)
        and cls is not models.Backbone
    )


def backbone_classes(models, usable):
    """Sorted names of the backbone classes of a library that keras_tna builds.

    Args:
        models: module, `keras_cv.models` or `keras_hub.models`.
        usable: callable `(attr, cls) -> bool`: which subclasses of
            `models.Backbone` build offline from explicit arguments.
    """
    return sorted(
        attr
        for attr in dir(models)
        if _is_backbone(models, getattr(models, attr))
        and usable(attr, getattr(models, attr))
    )


def backbone_class(models, class_name, library, prefix, usable):
    """`models.<class_name>`, or a ValueError listing the usable classes.

    Args:
        models: module, `keras_cv.models` or `keras_hub.models`.
        class_name: str, the requested class.
        library: str, the library's name for messages ("keras-cv").
        prefix: str, the network-name prefix ("keras_cv:").
        usable: callable `(attr, cls) -> bool`, as for `backbone_classes`.
    """
    cls = getattr(models, class_name, None)
    if not _is_backbone(models, cls):
        raise ValueError(
            f"'{class_name}' is not a {library} backbone class; use one of "
            f"{backbone_classes(models, usable)}. Received: '{prefix}{class_name}'"
        )
    return cls


def refuse_arguments(network, kwargs, refused):
    """Raises when `kwargs` holds an argument of `refused` ((name, why) pairs)."""
    for argument, why in refused:
        if argument in kwargs:
            raise ValueError(
                f"'{network}' does not take `{argument}` ({why}). "
                f"Received: {argument}={kwargs[argument]!r}"
            )


def classifier_on(backbone, block_layers, pool, num_classes, weight_decay, name):
    """A classifier on a built backbone: pooling, then linear float32 logits.

    Renames the layers `block_layers` (depth order) `block_1`, `block_2`, ...,
    pools the backbone's output with `pool` and puts the L2 penalty on every
    kernel (`add_weight_decay`).
    """
    for i, layer_name in enumerate(list(block_layers), start=1):
        backbone.get_layer(layer_name).name = f"block_{i}"
    settings = LayerSettings("glorot_uniform", weight_decay)
    features = pool(backbone.output)
    outputs = settings.logits(num_classes)(features)
    model = keras.Model(backbone.input, outputs, name=name)
    add_weight_decay(model, weight_decay)
    return model
