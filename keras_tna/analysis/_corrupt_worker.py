"""The per-image corruption work, run in the calling process or in worker processes.

Kept free of keras/TensorFlow calls: worker processes only run numpy, OpenCV,
scikit-image and numba code here.
"""

import functools
import importlib.resources
import warnings

import numpy as np

# Severity parameters of `imagecorruptions.corruptions.frost` (same values).
_FROST_SEVERITY = [(1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)]
_FROST_FILES = (
    "frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg",
)  # fmt: skip
# Corruptions that take a `seed=` argument in imagecorruptions(-imaug) and
# otherwise draw an unseeded one.
_SEEDED_BY_ARGUMENT = ("glass_blur", "impulse_noise")


@functools.lru_cache(maxsize=None)
def _frost_layer(index, height, width):
    """Frost image `index`, rescaled for `height` x `width` images (cached).

    The same steps as `imagecorruptions.corruptions.frost`, which re-reads and
    re-scales the frost picture for every image (most of its time on small
    images).
    """
    import cv2

    ref = importlib.resources.files("imagecorruptions") / "frost" / _FROST_FILES[index]
    with importlib.resources.as_file(ref) as path:
        frost = cv2.imread(str(path))
    frost_shape = frost.shape
    x_shape = (height, width)
    if frost_shape[0] >= x_shape[0] and frost_shape[1] >= x_shape[1]:
        scaling_factor = 1
    elif frost_shape[0] < x_shape[0] and frost_shape[1] >= x_shape[1]:
        scaling_factor = x_shape[0] / frost_shape[0]
    elif frost_shape[0] >= x_shape[0] and frost_shape[1] < x_shape[1]:
        scaling_factor = x_shape[1] / frost_shape[1]
    else:
        scaling_factor = np.maximum(x_shape[0] / frost_shape[0], x_shape[1] / frost_shape[1])
    scaling_factor *= 1.1
    new_shape = (
        int(np.ceil(frost_shape[1] * scaling_factor)),
        int(np.ceil(frost_shape[0] * scaling_factor)),
    )
    return cv2.resize(frost, dsize=new_shape, interpolation=cv2.INTER_CUBIC)


def frost(image, severity):
    """`imagecorruptions`' frost on an RGB uint8 image, with the frost pictures cached.

    Draws the same random numbers in the same order as the original, so under
    the same `np.random` state the output is identical.
    """
    c = _FROST_SEVERITY[severity - 1]
    index = np.random.randint(6)
    layer = _frost_layer(index, image.shape[0], image.shape[1])
    x_start = np.random.randint(0, layer.shape[0] - image.shape[0])
    y_start = np.random.randint(0, layer.shape[1] - image.shape[1])
    crop = layer[x_start : x_start + image.shape[0], y_start : y_start + image.shape[1]][..., [2, 1, 0]]
    return np.uint8(np.clip(c[0] * np.asarray(image) + c[1] * crop, 0, 255))


def corrupt_one(image, name, severity, seed):
    """Corrupts one RGB uint8 image `(h, w, 3)`, deterministically given `seed`."""
    from imagecorruptions import corrupt

    np.random.seed(seed)
    if name == "frost":
        return frost(image, severity)
    kwargs = {"seed": seed} if name in _SEEDED_BY_ARGUMENT else {}
    with warnings.catch_warnings():
        # spatter divides by zero on flat images (nan -> 0); harmless here.
        warnings.simplefilter("ignore", RuntimeWarning)
        return corrupt(image, severity=severity, corruption_name=name, **kwargs)


def corrupt_chunk(images, name, severity, seeds):
    """Corrupts a chunk of RGB uint8 images, one seed per image."""
    out = np.empty_like(images)
    for i, (image, seed) in enumerate(zip(images, seeds)):
        out[i] = corrupt_one(image, name, severity, int(seed))
    return out
