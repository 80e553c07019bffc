"""Reading image files without TensorFlow: the one PIL decoder and resize.

Used by the TensorFlow-free datasets (`keras_tna.data.array_sources`) and by
the corruption benchmark's image folders (`keras_tna.analysis.corruptions`).
Images are decoded with PIL (always 3 channels) and resized with TensorFlow's
antialiased bilinear filter reimplemented in numpy, so resized pixels match
`keras_tna.data.load`'s (`augment.resize`).
"""

import concurrent.futures
import functools

import numpy as np

from keras_tna.data import layout


def first_size(path, root):
    """The `(height, width)` of one image file, or the unreadable-image error."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError):
        layout.raise_unreadable([path], root)
    return height, width


def read_image(path, image_size=None):
    """One image file as a uint8 `(height, width, 3)` array, or None if unreadable.

    Args:
        path: str or path-like. A JPEG, PNG, BMP or GIF file.
        image_size: tuple of 2 ints or None. Resize to `(height, width)` with
            `resize` (TensorFlow's antialiased bilinear filter).

    Returns:
        uint8 numpy array (always 3 channels), or None when PIL cannot read it.

    Examples:

    ```python
    pixels = read_image("data/train/cat/1.png", (32, 32))
    ```
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    if image_size is not None:
        pixels = resize(pixels, image_size)
    return pixels


def read_images(paths, root, target, image_size=None, threads=1):
    """Decodes `paths` in a thread pool into one uint8 array, or one clear error.

    Args:
        paths: list of paths. The image files.
        root: path. The folder they come from (for error messages).
        target: tuple of 2 ints. The `(height, width)` every image must have.
        image_size: tuple of 2 ints or None. Resize each image first.
        threads: int. Decoding threads.

    Returns:
        uint8 array `(len(paths), *target, 3)`.

    Raises:
        ValueError: an unreadable image, or images of another size (one line
            naming the files, `layout.raise_unreadable`,
            `layout.size_mismatch_error`).
    """
    images = np.zeros((len(paths), *target, 3), np.uint8)
    unreadable, mismatched = [], []
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        decoded = pool.map(
            functools.partial(read_image, image_size=image_size),
            paths,
            chunksize=256,
        )
        for i, (path, pixels) in enumerate(zip(paths, decoded)):
            if pixels is None:
                unreadable.append(path)
            elif pixels.shape[:2] != tuple(target):
                mismatched.append((path, pixels.shape[:2]))
            else:
                images[i] = pixels
    if unreadable:
        layout.raise_unreadable(unreadable, root)
    if mismatched:
        raise layout.size_mismatch_error(root, target, mismatched)
    return images


def resize(image, size):
    """Resizes one uint8 image like `tf.image.resize(..., antialias=True)`.

    Bilinear with half-pixel centres, the kernel widened by the scale factor
    when shrinking (antialiasing), edge weights renormalised; computed in
    float32 and rounded to uint8, as `augment.resize` does.

    Args:
        image: uint8 array `(height, width, channels)`.
        size: tuple of 2 ints, the output `(height, width)`.

    Returns:
        A uint8 array `(*size, channels)`.

    Examples:

    ```python
    small = resize(np.zeros((64, 48, 3), "uint8"), (32, 32))
    ```
    """
    rows = _resize_weights(image.shape[0], int(size[0]))
    cols = _resize_weights(image.shape[1], int(size[1]))
    out = np.einsum("ij,jkc->ikc", rows, image.astype(np.float32))
    out = np.einsum("lk,ikc->ilc", cols, out)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def resize_all(images, size):
    """`resize` of every image of a `(n, height, width, channels)` array."""
    return np.stack([resize(image, size) for image in images])


@functools.lru_cache(maxsize=64)
def _resize_weights(in_size, out_size):
    """`(out_size, in_size)` float32 weights of TensorFlow's antialiased
    bilinear resampling (its `scale_and_translate` with a triangle kernel)."""
    inv_scale = np.float32(in_size / out_size)
    kernel_scale = max(float(inv_scale), 1.0)
    weights = np.zeros((out_size, in_size), np.float32)
    for x in range(out_size):
        centre = np.float32(x + 0.5) * inv_scale
        start = int(np.ceil(centre - kernel_scale - 0.5))
        end = int(np.floor(centre + kernel_scale - 0.5))
        start = min(max(start, 0), in_size - 1)
        end = min(max(end, 0), in_size - 1) + 1
        taps = np.arange(start, end)
        kernel = np.maximum(0.0, 1.0 - np.abs((taps + 0.5 - centre) / kernel_scale))
        kernel = kernel.astype(np.float32)
        weights[x, start:end] = kernel / kernel.sum()
    return weights
