"""Multiply-accumulates of a network's forward pass, from its layers' shapes.

Used to put training and inference compute beside accuracy (the
compute-matched comparison, `keras_tna.reporting.compute`). Counts the layers
that carry almost all of a CNN's arithmetic: `Conv2D`, `DepthwiseConv2D` and
`Dense` (per example, biases and activations not counted). Pooling,
normalisation and elementwise layers are left out, so the figure is a lower
bound, exact for networks made only of those layers and pooling (the paper's
ConvNet).
"""

import math

import keras


def count_macs(model):
    """Multiply-accumulates of one example's forward pass through `model`.

    Args:
        model: keras.Model. A built network with known input and output
            shapes (nested models are walked).

    Returns:
        int. The sum over `Conv2D`, `DepthwiseConv2D` and `Dense` layers of
        (output elements per example) x (inputs each output element reads).

    Raises:
        ValueError: a counted layer has an unknown output shape.

    Examples:

    >>> import keras
    >>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> count_macs(net)
    12
    """
    total = 0
    for layer in _layers(model):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D,
                              keras.layers.Dense)):
            total += _layer_macs(layer)
    return total


def _layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def _layer_macs(layer):
    shape = getattr(layer.output, "shape", None)
    if shape is None or any(d is None for d in shape[1:]):
        raise ValueError(
            f"count_macs needs the output shape of layer {layer.name!r}; build "
            f"the model on a known input shape first. Received: {shape}"
        )
    outputs = math.prod(shape[1:])
    kernel = tuple(layer.kernel.shape)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        reads = kernel[0] * kernel[1]  # one input channel per output channel
    elif isinstance(layer, keras.layers.Conv2D):
        reads = kernel[0] * kernel[1] * kernel[2] // max(1, getattr(layer, "groups", 1))
    else:  # Dense: (inputs, units)
        reads = kernel[0]
    return int(outputs * reads)
