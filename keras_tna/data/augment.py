"""The paper's training-time augmentation and the per-dataset normalisation.

All ops work on images in the raw pixel range [0, 255] (uint8 or float) and are
stateless: randomness comes from an explicit `seed` (a shape-`(2,)` integer
tensor), so a pipeline is reproducible given its seed whatever the number of
parallel calls.

- `pad_crop_flip` / `random_pad_crop_flip`: zero-pad by `pad` pixels, take a
  random crop of the original size, flip horizontally with probability 1/2.
  The recipe for 32 and 64 pixel data (CIFAR, TinyImageNet: pad 4), and with
  pad 1 and no flip for the 8x8 digits. Works on a whole batch at once.
- `random_resized_crop`: ImageNet's Inception-style crop (area 8%-100%,
  aspect ratio 3/4-4/3) resized to the target size; one image at a time.
- `center_crop_resize`: ImageNet's evaluation transform (resize the shorter
  side to `size / 0.875`, take the central crop).
- `normalize`: `(x / 255 - mean) / std` per channel.
"""

import numpy as np
import tensorflow as tf

from keras_tna.data import source


def pad_crop_flip(images, offsets, flips, pad):
    """Zero-pads a batch, crops each image at a given offset, flips some.

    The deterministic core of `random_pad_crop_flip`: image `i` of the output
    is `padded[i, dy:dy + H, dx:dx + W]` with `(dy, dx) = offsets[i]`, then
    mirrored left-right where `flips[i]` is true. Padding is zero in the raw
    pixel range (black), as in `torchvision.transforms.RandomCrop(padding=4)`.

    Args:
        images: tensor of shape `(batch, height, width, channels)`, any dtype.
        offsets: int tensor of shape `(batch, 2)`, each `(dy, dx)` in
            `[0, 2 * pad]`.
        flips: bool tensor of shape `(batch,)`.
        pad: int, pixels of zero padding on every side.

    Returns:
        A tensor with the shape and dtype of `images`.

    Examples:

    ```python
    x = tf.reshape(tf.range(9), (1, 3, 3, 1))
    pad_crop_flip(x, [[0, 0]], [False], pad=1)[0, ..., 0]
    # [[0, 0, 0], [0, 0, 1], [0, 3, 4]]
    ```
    """
    images = tf.convert_to_tensor(images)
    offsets = tf.convert_to_tensor(offsets, tf.int32)
    flips = tf.convert_to_tensor(flips, tf.bool)
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    rows = offsets[:, :1] + tf.range(height)[None, :]
    cols = offsets[:, 1:] + tf.range(width)[None, :]
    # Reading the crop's columns right to left is the horizontal flip.
    cols = tf.where(flips[:, None], tf.reverse(cols, axis=[1]), cols)
    out = tf.gather(padded, rows, axis=1, batch_dims=1)
    out = tf.gather(out, cols, axis=2, batch_dims=1)
    return tf.ensure_shape(out, images.shape)


def random_pad_crop_flip(images, seed, pad=4, flip=True):
    """Random pad-and-crop (plus horizontal flip) of a batch, stateless.

    Offsets are uniform in `[0, 2 * pad]` on each axis, flips have probability
    1/2, both drawn independently per image from `seed`.

    Args:
        images: tensor of shape `(batch, height, width, channels)`.
        seed: int tensor of shape `(2,)`, the stateless seed.
        pad: int, pixels of zero padding on every side (4 for CIFAR).
        flip: bool, whether to flip horizontally with probability 1/2.

    Returns:
        A tensor with the shape and dtype of `images`.

    Examples:

    ```python
    x = tf.zeros((256, 32, 32, 3), "uint8")
    y = random_pad_crop_flip(x, seed=tf.constant([0, 1]), pad=4)
    ```
    """
    images = tf.convert_to_tensor(images)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    batch = tf.shape(images)[0]
    offsets = tf.random.stateless_uniform(
        (batch, 2), seeds[0], minval=0, maxval=2 * pad + 1, dtype=tf.int32
    )
    if flip:
        flips = tf.random.stateless_uniform((batch,), seeds[1]) < 0.5
    else:
        flips = tf.zeros((batch,), tf.bool)
    return pad_crop_flip(images, offsets, flips, pad)


def random_resized_crop(
    image,
    seed,
    size,
    scale=source.RESIZED_CROP_SCALE,
    ratio=source.RESIZED_CROP_RATIO,
    flip=True,
):
    """ImageNet's random-resized crop (and horizontal flip) of one image.

    Samples a crop covering a fraction `scale` of the area with aspect ratio in
    `ratio` (the whole image if 10 tries fail), resizes it bilinearly to
    `size`, and flips it left-right with probability 1/2.

    Args:
        image: tensor of shape `(height, width, channels)`, pixels in [0, 255].
        seed: int tensor of shape `(2,)`, the stateless seed.
        size: tuple of 2 ints, the output `(height, width)`.
        scale: tuple of 2 floats, the range of the crop's area fraction.
        ratio: tuple of 2 floats, the range of the crop's width / height.
        flip: bool, whether to flip horizontally with probability 1/2.

    Returns:
        A float32 tensor of shape `(*size, channels)`, pixels in [0, 255].

    Examples:

    ```python
    image = tf.zeros((375, 500, 3), "uint8")
    crop = random_resized_crop(image, tf.constant([0, 1]), (224, 224))
    ```
    """
    seeds = tf.random.experimental.stateless_split(seed, 2)
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=seeds[0],
        min_object_covered=0.0,
        aspect_ratio_range=ratio,
        area_range=scale,
        max_attempts=source.RESIZED_CROP_ATTEMPTS,
        use_image_if_no_bounding_boxes=True,
    )
    crop = tf.slice(image, begin, crop_size)
    crop = tf.image.resize(tf.cast(crop, tf.float32), size, antialias=True)
    if flip:
        crop = tf.image.stateless_random_flip_left_right(crop, seeds[1])
    return crop


def center_crop_resize(image, size, crop_fraction=0.875):
    """ImageNet's evaluation transform: resize the shorter side, crop the centre.

    The shorter side is resized to `size / crop_fraction` (256 for 224), then
    the central `size` crop is taken.

    Args:
        image: tensor of shape `(height, width, channels)`.
        size: tuple of 2 ints, the output `(height, width)`.
        crop_fraction: float in (0, 1], the crop's share of the resized side.

    Returns:
        A uint8 tensor of shape `(*size, channels)`.

    Examples:

    ```python
    out = center_crop_resize(tf.zeros((375, 500, 3), "uint8"), (224, 224))
    ```
    """
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    target = tf.cast(tf.reduce_max(size), tf.float32) / crop_fraction
    scale = target / tf.reduce_min(shape)
    resized_shape = tf.cast(tf.math.ceil(shape * scale), tf.int32)
    resized_shape = tf.maximum(resized_shape, size)
    image = tf.image.resize(
        tf.cast(image, tf.float32), resized_shape, antialias=True
    )
    top = (resized_shape[0] - size[0]) // 2
    left = (resized_shape[1] - size[1]) // 2
    image = image[top : top + size[0], left : left + size[1]]
    return to_uint8(image)


def resize(image, size):
    """Resizes one image (bilinear, antialiased) and rounds back to uint8.

    Args:
        image: tensor of shape `(height, width, channels)`, pixels in [0, 255].
        size: tuple of 2 ints, the output `(height, width)`.

    Returns:
        A uint8 tensor of shape `(*size, channels)`.

    Examples:

    ```python
    small = resize(tf.zeros((64, 64, 3), "uint8"), (32, 32))
    ```
    """
    return to_uint8(tf.image.resize(tf.cast(image, tf.float32), size, antialias=True))


def to_uint8(images):
    """Rounds float pixels to the nearest integer in [0, 255], as uint8."""
    return tf.cast(tf.clip_by_value(tf.round(images), 0.0, 255.0), tf.uint8)


def normalize(images, mean, std):
    """Scales pixels to [0, 1], then subtracts `mean` and divides by `std`.

    Args:
        images: uint8 or float array or tensor, pixels in [0, 255], channels
            last. A numpy array gives a numpy array, a tensor gives a tensor.
        mean: sequence of floats, one per channel, in [0, 1] units.
        std: sequence of floats, one per channel, in [0, 1] units.

    Returns:
        float32 images, `(images / 255 - mean) / std`.

    Examples:

    ```python
    x = normalize(np.full((2, 32, 32, 3), 255, "uint8"), (0.5,) * 3, (0.25,) * 3)
    # every value is (1 - 0.5) / 0.25 = 2
    ```
    """
    mean = np.asarray(mean, np.float32)
    std = np.asarray(std, np.float32)
    if isinstance(images, np.ndarray):
        return ((images.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)
    images = tf.cast(images, tf.float32)
    return (images / 255.0 - mean) / std
