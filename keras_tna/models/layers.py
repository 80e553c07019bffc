"""Custom layers used by the networks in `keras_tna.models`."""

import keras
import numpy as np
from keras import ops


def adaptive_pool_matrix(in_size, out_size):
    """The `(out_size, in_size)` averaging matrix of PyTorch's adaptive pooling.

    Output bin `i` averages the inputs `floor(i * in / out)` up to (excluding)
    `ceil((i + 1) * in / out)`, as `torch.nn.AdaptiveAvgPool2d` does.
    """
    matrix = np.zeros((out_size, in_size), dtype="float32")
    for i in range(out_size):
        start = (i * in_size) // out_size
        end = -((-(i + 1) * in_size) // out_size)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


@keras.saving.register_keras_serializable(package="keras_tna")
class AdaptiveAveragePooling2D(keras.layers.Layer):
    """Average pooling to a fixed output size, like PyTorch's AdaptiveAvgPool2d.

    The spatial size of the input must be known when the layer is built. The
    bins follow PyTorch (`floor(i*H/h)` to `ceil((i+1)*H/h)`), so bins overlap
    when `H` is not a multiple of `h`. Input and output are channels last.

    Args:
        output_size: int or tuple of 2 ints, the output height and width.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Examples:

    ```python
    x = np.arange(2 * 26 * 26 * 3, dtype="float32").reshape(2, 26, 26, 3)
    y = keras_tna.models.layers.AdaptiveAveragePooling2D(5)(x)  # (2, 5, 5, 3)
    ```
    """

    def __init__(self, output_size, **kwargs):
        super().__init__(**kwargs)
        if isinstance(output_size, int):
            output_size = (output_size, output_size)
        output_size = tuple(output_size)
        if len(output_size) != 2 or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 1
            for s in output_size
        ):
            raise ValueError(
                "`output_size` must be a positive int or a tuple of 2 positive "
                f"ints. Received: output_size={output_size!r}"
            )
        self.output_size = output_size

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        if height is None or width is None:
            raise ValueError(
                "AdaptiveAveragePooling2D needs a known input height and width. "
                f"Received: input_shape={input_shape}"
            )
        self._rows = adaptive_pool_matrix(height, self.output_size[0])
        self._cols = adaptive_pool_matrix(width, self.output_size[1])

    def call(self, inputs):
        rows = ops.convert_to_tensor(self._rows, dtype=inputs.dtype)
        cols = ops.convert_to_tensor(self._cols, dtype=inputs.dtype)
        return ops.einsum("ih,bhwc,jw->bijc", rows, inputs, cols)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.output_size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size}


def sincos_2d_position_embedding(height, width, dim, temperature=10_000.0):
    """The fixed 2D sin-cos position embedding of Beyer et al. (2022).

    Returns a `(height * width, dim)` float32 array: for the patch in row `y`
    and column `x` (row-major order), `[sin(x w), cos(x w), sin(y w), cos(y w)]`
    with `w_k = temperature ** -(k / (dim/4 - 1))`, `k = 0 .. dim/4 - 1`
    (big_vision's `posemb_sincos_2d`, after MoCo v3).
    """
    if dim % 4 != 0:
        raise ValueError(
            "The sin-cos position embedding needs a width divisible by 4. "
            f"Received: dim={dim}"
        )
    quarter = dim // 4
    omega = 1.0 / temperature ** (np.arange(quarter) / max(quarter - 1, 1))
    y, x = np.mgrid[:height, :width]
    y = np.outer(y.reshape(-1), omega)
    x = np.outer(x.reshape(-1), omega)
    embedding = np.concatenate([np.sin(x), np.cos(x), np.sin(y), np.cos(y)], 1)
    return embedding.astype("float32")


@keras.saving.register_keras_serializable(package="keras_tna")
class SinCos2DPositionEmbedding(keras.layers.Layer):
    """Adds the fixed 2D sin-cos position embedding to a grid of patch tokens.

    Takes `(batch, height, width, dim)` patch embeddings and returns
    `(batch, height * width, dim)` tokens (row-major) plus the embedding of
    `sincos_2d_position_embedding`. It has no weights.

    Args:
        temperature: float, the frequency base, 10000 in Beyer et al. (2022).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Examples:

    ```python
    patches = keras.ops.zeros((2, 14, 14, 384))
    tokens = SinCos2DPositionEmbedding()(patches)  # (2, 196, 384)
    ```
    """

    def __init__(self, temperature=10_000.0, **kwargs):
        super().__init__(**kwargs)
        self.temperature = float(temperature)

    def build(self, input_shape):
        _, height, width, dim = input_shape
        if height is None or width is None or dim is None:
            raise ValueError(
                "SinCos2DPositionEmbedding needs a known height, width and "
                f"width of the embedding. Received: input_shape={input_shape}"
            )
        self._embedding = sincos_2d_position_embedding(
            height, width, dim, self.temperature
        )

    def call(self, inputs):
        shape = ops.shape(inputs)
        tokens = ops.reshape(inputs, (shape[0], -1, shape[3]))
        return tokens + ops.convert_to_tensor(self._embedding, dtype=inputs.dtype)

    def compute_output_shape(self, input_shape):
        batch, height, width, dim = input_shape
        return (batch, height * width, dim)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


@keras.saving.register_keras_serializable(package="keras_tna")
def gelu_tanh(x):
    """GELU with the tanh approximation (flax's `nn.gelu` default)."""
    return ops.gelu(x, approximate=True)

