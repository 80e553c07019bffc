"""The corruptions of Hendrycks & Dietterich (2019) and how to generate them.

The catalogue (`CORRUPTIONS`, `get_corruption`, `SEVERITIES`) and
`corrupt_images` (imagecorruptions-imaug in worker processes), used by the
corruption sources (`corruption_sources`) and the benchmark (`corruptions`).
"""

import concurrent.futures
import dataclasses
import multiprocessing
import os

import numpy as np

from keras_tna.analysis import _corrupt_worker

SEVERITIES = (1, 2, 3, 4, 5)
RELEASED = "released"
GENERATED = "generated"


@dataclasses.dataclass(frozen=True)
class Corruption:
    """One corruption type.

    Attributes:
        name: str, Hendrycks & Dietterich's name (as in imagecorruptions and
            the released CIFAR-10-C / TinyImageNet-C folders).
        title: str, for tables ("Gaussian Noise").
        category: str, "noise", "blur", "weather", "digital" or "extra".
        tfds_name: str, the name in TFDS `cifar10_corrupted`.
    """

    name: str
    title: str
    category: str
    tfds_name: str


_ALL = (
    Corruption("gaussian_noise", "Gaussian Noise", "noise", "gaussian_noise"),
    Corruption("shot_noise", "Shot Noise", "noise", "shot_noise"),
    Corruption("impulse_noise", "Impulse Noise", "noise", "impulse_noise"),
    Corruption("defocus_blur", "Defocus Blur", "blur", "defocus_blur"),
    Corruption("glass_blur", "Glass Blur", "blur", "frosted_glass_blur"),
    Corruption("motion_blur", "Motion Blur", "blur", "motion_blur"),
    Corruption("zoom_blur", "Zoom Blur", "blur", "zoom_blur"),
    Corruption("snow", "Snow", "weather", "snow"),
    Corruption("frost", "Frost", "weather", "frost"),
    Corruption("fog", "Fog", "weather", "fog"),
    Corruption("brightness", "Brightness", "digital", "brightness"),
    Corruption("contrast", "Contrast", "digital", "contrast"),
    Corruption("elastic_transform", "Elastic Transform", "digital", "elastic"),
    Corruption("pixelate", "Pixelate", "digital", "pixelate"),
    Corruption("jpeg_compression", "JPEG Compression", "digital", "jpeg_compression"),
    Corruption("speckle_noise", "Speckle Noise", "extra", "speckle_noise"),
    Corruption("gaussian_blur", "Gaussian Blur", "extra", "gaussian_blur"),
    Corruption("spatter", "Spatter", "extra", "spatter"),
    Corruption("saturate", "Saturate", "extra", "saturate"),
)
# The one registry: canonical name -> Corruption.
CORRUPTIONS = {c.name: c for c in _ALL}
COMMON_CORRUPTIONS = tuple(c.name for c in _ALL if c.category != "extra")
EXTRA_CORRUPTIONS = tuple(c.name for c in _ALL if c.category == "extra")
_BY_TFDS_NAME = {c.tfds_name: c for c in _ALL}


def get_corruption(name):
    """The `Corruption` for a canonical or TFDS name.

    Examples:

    >>> get_corruption("frosted_glass_blur").name
    'glass_blur'
    >>> get_corruption("elastic_transform").tfds_name
    'elastic'
    """
    if name in CORRUPTIONS:
        return CORRUPTIONS[name]
    if name in _BY_TFDS_NAME:
        return _BY_TFDS_NAME[name]
    raise ValueError(
        f"Unknown corruption {name!r}. Known: {', '.join(CORRUPTIONS)} (TFDS "
        "also spells glass_blur 'frosted_glass_blur' and elastic_transform "
        f"'elastic'). Received: {name!r}"
    )


def _check_severity(severity):
    if severity not in SEVERITIES:
        raise ValueError(f"`severity` must be one of {SEVERITIES}. Received: severity={severity!r}")


def _check_images(images):
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            "Corruptions need uint8 images of shape (n, height, width, 1 or 3) "
            "(e.g. from `keras_tna.data.load_raw`). Received: "
            f"dtype {images.dtype}, shape {images.shape}"
        )
    if images.shape[1] < 32 or images.shape[2] < 32:
        raise ValueError(
            "imagecorruptions needs images of at least 32x32 pixels; resize "
            "them first (e.g. `image_size=32` in keras_tna.data.load_raw and "
            f"load). Received: {images.shape[1]}x{images.shape[2]}"
        )
    return images


def image_seeds(seed, corruption, severity, count):
    """One seed per image, from (seed, corruption, severity, image index)."""
    index = list(CORRUPTIONS).index(get_corruption(corruption).name)
    sequence = np.random.SeedSequence([seed, index, severity])
    return sequence.generate_state(count, dtype=np.uint32)


def default_num_workers():
    """Worker processes for generation: the CPUs this process may use, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def _executor(num_workers):
    # Never "fork": the caller has TensorFlow (and its threads) loaded. With
    # "forkserver" the server process imports this package once and each
    # worker is a cheap fork of it; "spawn" (no forkserver, e.g. Windows)
    # makes every worker import it. Scripts need the usual
    # `if __name__ == "__main__":` guard for both.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["__main__", _corrupt_worker.__name__])
    else:
        context = multiprocessing.get_context("spawn")
    return concurrent.futures.ProcessPoolExecutor(max_workers=num_workers, mp_context=context)


def _corrupt(images, corruption, severity, seed, executor):
    name = get_corruption(corruption).name
    _check_severity(severity)
    grey = images.shape[-1] == 1
    rgb = np.repeat(images, 3, axis=-1) if grey else images
    seeds = image_seeds(seed, name, severity, len(rgb))
    if executor is None:
        out = _corrupt_worker.corrupt_chunk(rgb, name, severity, seeds)
    else:
        chunks = max(1, min(len(rgb), 4 * executor._max_workers))
        bounds = np.linspace(0, len(rgb), chunks + 1).astype(int)
        futures = [
            executor.submit(_corrupt_worker.corrupt_chunk, rgb[a:b], name, severity, seeds[a:b])
            for a, b in zip(bounds[:-1], bounds[1:])
            if b > a
        ]
        out = np.concatenate([f.result() for f in futures])
    if grey:
        out = np.round(out.astype(np.float32).mean(axis=-1, keepdims=True)).astype(np.uint8)
    return out


def corrupt_images(images, corruption, severity, seed=0, num_workers=1):
    """Applies one corruption at one severity to a batch of images.

    Uses `imagecorruptions` (the imagecorruptions-imaug release, which works
    with current numpy/scipy/scikit-image); frost uses a cached copy of its
    frost pictures (same output, several times faster on small images).
    Every image gets its own seed derived from `(seed, corruption, severity,
    index)`, so the result does not depend on `num_workers` or on chunking.
    Grey images are corrupted as RGB and averaged back to one channel.

    Args:
        images: uint8 array `(n, height, width, 1 or 3)`, at least 32x32.
        corruption: str, a name of `CORRUPTIONS` (or its TFDS spelling).
        severity: int, 1 to 5.
        seed: int.
        num_workers: int, worker processes (1: in this process).

    Returns:
        uint8 array of the same shape.

    Examples:

    >>> import numpy as np
    >>> images = np.full((2, 32, 32, 3), 128, np.uint8)
    >>> out = corrupt_images(images, "gaussian_noise", 3, seed=0)
    >>> out.shape, out.dtype, bool(np.array_equal(
    ...     out, corrupt_images(images, "gaussian_noise", 3, seed=0)))
    ((2, 32, 32, 3), dtype('uint8'), True)
    """
    images = _check_images(images)
    if num_workers is None:
        num_workers = default_num_workers()
    if num_workers <= 1 or len(images) < 2:
        return _corrupt(images, corruption, severity, seed, None)
    with _executor(num_workers) as executor:
        return _corrupt(images, corruption, severity, seed, executor)


# ---- sources ---------------------------------------------------------------
