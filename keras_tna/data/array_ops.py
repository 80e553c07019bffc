"""Augmentation and normalisation of batches with `keras.ops`, on any backend's device.

The `keras.ops` twins of `keras_tna.data.augment`'s tf.data transforms, for the
TensorFlow-free datasets (`keras_tna.data.arrays`). The augmentation itself
(which kind, pad, flip, the random-resized crop's ranges) is defined once, in
`keras_tna.data.source` (`Augmentation`, `RESIZED_CROP_*`).
"""

import functools

import numpy as np
from keras import ops

from keras_tna import backend
from keras_tna.data.source import (
    RESIZED_CROP_ATTEMPTS,
    RESIZED_CROP_RATIO,
    RESIZED_CROP_SCALE,
)


def pad_crop_flip(images, offsets, flips, pad):
    """Zero-pads a batch, crops each image at a given offset, flips some.

    `keras.ops` twin of `augment.pad_crop_flip` (runs on any backend's
    device): image `i` of the output is `padded[i, dy:dy + H, dx:dx + W]`
    with `(dy, dx) = offsets[i]`, mirrored left-right where `flips[i]`.

    Args:
        images: tensor `(batch, height, width, channels)`, any dtype.
        offsets: int tensor `(batch, 2)`, each `(dy, dx)` in `[0, 2 * pad]`.
        flips: bool tensor `(batch,)`.
        pad: int, pixels of zero padding on every side.

    Returns:
        A tensor with the shape and dtype of `images`.

    Examples:

    ```python
    x = np.arange(9).reshape(1, 3, 3, 1)
    pad_crop_flip(x, [[0, 0]], [False], pad=1)[0, ..., 0]
    # [[0, 0, 0], [0, 0, 1], [0, 3, 4]]
    ```
    """
    images = ops.convert_to_tensor(images)
    offsets = ops.convert_to_tensor(offsets, "int32")
    flips = ops.convert_to_tensor(flips, "bool")
    height, width = images.shape[1], images.shape[2]
    padded = ops.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    rows = offsets[:, :1] + ops.arange(height, dtype="int32")[None, :]
    cols = offsets[:, 1:] + ops.arange(width, dtype="int32")[None, :]
    # Reading the crop's columns right to left is the horizontal flip.
    cols = ops.where(flips[:, None], ops.flip(cols, axis=1), cols)
    out = ops.take_along_axis(padded, rows[:, :, None, None], axis=1)
    return ops.take_along_axis(out, cols[:, None, :, None], axis=2)


def resized_crop_flip(images, boxes, flips):
    """Crops a box of each image, resizes it to the image size, flips some.

    The crop is enlarged as `tf.image.resize` does (the box is never larger
    than the output): bilinear with half-pixel centres, sample positions
    clamped to the box, as in `augment.random_resized_crop`.

    Args:
        images: tensor `(batch, height, width, channels)`.
        boxes: tensor `(batch, 4)` of whole numbers, each `(top, left,
            box_height, box_width)` in pixels, inside the image.
        flips: bool tensor `(batch,)`.

    Returns:
        A float32 tensor with the shape of `images`, pixels in the input range.

    Examples:

    ```python
    x = np.random.rand(2, 96, 96, 3) * 255
    y = resized_crop_flip(x, [[0, 0, 48, 48], [10, 20, 60, 30]], [False, True])
    ```
    """
    images = ops.cast(ops.convert_to_tensor(images), "float32")
    boxes = ops.cast(ops.convert_to_tensor(boxes), "float32")
    flips = ops.convert_to_tensor(flips, "bool")
    height, width = images.shape[1], images.shape[2]

    def taps(start, size, out_size):
        # Output pixel i samples start + (i + 0.5) * size / out_size - 0.5,
        # clamped to the box: the two neighbouring pixels and their weights.
        last = start + size - 1.0
        pos = start[:, None] + (ops.arange(out_size, dtype="float32")[None, :] + 0.5) * (
            size[:, None] / out_size
        ) - 0.5
        pos = ops.clip(pos, start[:, None], last[:, None])
        low = ops.floor(pos)
        high = ops.minimum(low + 1.0, last[:, None])
        return ops.cast(low, "int32"), ops.cast(high, "int32"), pos - low

    top, left, box_h, box_w = (boxes[:, i] for i in range(4))
    y0, y1, wy = taps(top, box_h, height)
    x0, x1, wx = taps(left, box_w, width)
    # Reading the columns right to left is the horizontal flip.
    x0, x1, wx = (ops.where(flips[:, None], ops.flip(t, axis=1), t) for t in (x0, x1, wx))
    upper = ops.take_along_axis(images, y0[:, :, None, None], axis=1)
    lower = ops.take_along_axis(images, y1[:, :, None, None], axis=1)
    rows = upper + (lower - upper) * wy[:, :, None, None]
    left_px = ops.take_along_axis(rows, x0[:, None, :, None], axis=2)
    right_px = ops.take_along_axis(rows, x1[:, None, :, None], axis=2)
    return left_px + (right_px - left_px) * wx[:, None, :, None]


def sample_crop_boxes(rng, count, height, width):
    """Inception-style crop boxes: area 8%-100%, aspect ratio 3/4-4/3.

    Each box tries 10 (area, log-uniform ratio) draws and takes the first that
    fits, else the whole image; its position is uniform.

    Args:
        rng: `np.random.Generator`.
        count: int, boxes to draw.
        height: int, image height.
        width: int, image width.

    Returns:
        float32 array `(count, 4)` of `(top, left, box_height, box_width)`.
    """
    shape = (count, RESIZED_CROP_ATTEMPTS)
    area = height * width * rng.uniform(*RESIZED_CROP_SCALE, shape)
    ratio = np.exp(rng.uniform(*np.log(RESIZED_CROP_RATIO), shape))
    box_w = np.round(np.sqrt(area * ratio))
    box_h = np.round(np.sqrt(area / ratio))
    fits = (box_w >= 1) & (box_h >= 1) & (box_w <= width) & (box_h <= height)
    first = np.argmax(fits, axis=1)
    pick = np.arange(count), first
    found = fits.any(axis=1)
    box_h = np.where(found, box_h[pick], height)
    box_w = np.where(found, box_w[pick], width)
    top = np.floor(rng.random(count) * (height - box_h + 1))
    left = np.floor(rng.random(count) * (width - box_w + 1))
    return np.stack([top, left, box_h, box_w], axis=1).astype(np.float32)


def normalize(images, mean, std):
    """`(images / 255 - mean) / std` in float32, with `keras.ops`."""
    # mean and std as float32 tensors: a NumPy operand would hand PyTorch's
    # tensors to NumPy (its deprecated __array_wrap__) and compute in float64.
    mean = ops.convert_to_tensor(mean, "float32")
    std = ops.convert_to_tensor(std, "float32")
    return (ops.cast(images, "float32") / 255.0 - mean) / std


def _pad_crop(images, offsets, flips, mean, std, pad):
    return normalize(pad_crop_flip(images, offsets, flips, pad), mean, std)


def _resized_crop(images, boxes, flips, mean, std):
    return normalize(resized_crop_flip(images, boxes, flips), mean, std)


_DEVICE_FNS = {
    "normalize": (normalize, ()),
    "pad_crop": (_pad_crop, ("pad",)),
    "resized_crop": (_resized_crop, ()),
}


@functools.lru_cache(maxsize=None)
def device_fn(name):
    """The batch transform `name`, compiled for the backend (`jax.jit` on JAX)."""
    fn, static = _DEVICE_FNS[name]
    return backend.compile_fn(fn, static_argnames=static)
