"""Corruption robustness (Hendrycks & Dietterich 2019; the paper's Table 6).

A network is evaluated on the 15 common corruptions x 5 severities; per
corruption the score is the mean over severities. Corrupted images come from
a `CorruptionSource`:

- `TFDSCorruptions`: TFDS `cifar10_corrupted` (released CIFAR-10-C; TFDS
  spells two names differently: `frosted_glass_blur` is `glass_blur`,
  `elastic` is `elastic_transform`).
- `ArrayFolderCorruptions`: the released CIFAR-10-C / CIFAR-100-C folder,
  `<root>/<corruption>.npy` (5 x n images, severity 1 first) + `labels.npy`.
- `ImageFolderCorruptions`: the released TinyImageNet-C / ImageNet-C folder,
  `<root>/<corruption>/<severity>/<class>/<image>`.
- `GeneratedCorruptions`: corruptions generated from any test set with
  `imagecorruptions-imaug` (the ImageNet-C code), seeded, cached as `.npy`,
  and labelled "generated": their severities are ImageNet-C's, not those of
  the released CIFAR-10-C / TinyImageNet-C, so their numbers are not
  comparable with numbers on the released sets.

The four further corruptions of the released sets (speckle_noise,
gaussian_blur, spatter, saturate; Hendrycks & Dietterich's validation
corruptions) are in the registry and can be evaluated by name, but the
averages and the mCE use only the 15 common ones, as the paper does.
"""

import concurrent.futures
import dataclasses
import hashlib
import multiprocessing
import os
import pathlib
import re
import weakref

import numpy as np

from keras_tna.analysis import _corrupt_worker
from keras_tna.analysis import common

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
class CorruptionSource:
    """Where the corrupted images of one test set come from.

    Subclasses implement `available()` and `load(corruption, severity)`;
    `prepare(variants)` may do up-front work for many variants at once.

    Attributes:
        kind: "released" (published corrupted sets) or "generated".
        description: str, for tables and logs.
        class_names: tuple of str or None, the label order of the source.
    """

    kind = RELEASED
    description = ""
    class_names = None

    def available(self):
        """The canonical corruption names this source has."""
        raise NotImplementedError

    def load(self, corruption, severity):
        """`(images uint8 (n, h, w, c), labels int (n,))` for one variant."""
        raise NotImplementedError

    def prepare(self, variants):
        """Optional: make the `(corruption, severity)` variants ready at once."""
        del variants

    def close(self):
        """Optional: release resources (worker processes)."""


class TFDSCorruptions(CorruptionSource):
    """TFDS `cifar10_corrupted/<name>_<severity>` (released CIFAR-10-C).

    Read through `keras_tna.data.load_raw`, never downloaded: prepare the
    dataset beforehand (`tfds build cifar10_corrupted --data_dir=DIR`).

    Args:
        data_dir: str or None, the TFDS data dir.
        max_examples: int or None, use the first examples of each variant.
    """

    kind = RELEASED
    class_names = (
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    )  # fmt: skip

    def __init__(self, data_dir=None, max_examples=None):
        self.data_dir = data_dir
        self.max_examples = max_examples
        self.description = "TFDS cifar10_corrupted (released CIFAR-10-C)"

    def available(self):
        return list(CORRUPTIONS)

    def load(self, corruption, severity):
        from keras_tna import data

        _check_severity(severity)
        name = f"cifar10_corrupted/{get_corruption(corruption).tfds_name}_{severity}"
        images, labels = data.load_raw(
            name, "test", data_dir=self.data_dir, max_examples=self.max_examples
        )
        return np.asarray(images), np.asarray(labels)


class ArrayFolderCorruptions(CorruptionSource):
    """The released CIFAR-10-C / CIFAR-100-C folder: one `.npy` per corruption.

    Layout: `<root>/<corruption>.npy`, uint8 `(5 * n, 32, 32, 3)` holding
    severity 1's n images first, then severity 2's, ...; `<root>/labels.npy`
    with the matching `5 * n` labels.

    Args:
        root: str or path-like, the folder (e.g. `CIFAR-10-C/`).
        class_names: sequence of str or None, the label order (for checks
            against the network's dataset); CIFAR-10-C's is CIFAR-10's.
        max_examples: int or None, use the first examples of each severity.
    """

    kind = RELEASED

    def __init__(self, root, class_names=None, max_examples=None):
        self.root = pathlib.Path(os.fspath(root)).expanduser()
        labels = self.root / "labels.npy"
        if not labels.is_file():
            raise FileNotFoundError(
                f"{str(self.root)!r} is not a CIFAR-10-C style folder: it has no "
                "labels.npy. Expected <root>/labels.npy and <root>/<corruption>.npy."
            )
        self.labels = np.load(labels)
        if len(self.labels) % len(SEVERITIES):
            raise ValueError(
                f"{str(labels)!r} holds {len(self.labels)} labels, not 5 severities "
                "of equal size."
            )
        self.per_severity = len(self.labels) // len(SEVERITIES)
        self.class_names = tuple(class_names) if class_names is not None else None
        self.max_examples = max_examples
        self.description = f"released folder {self.root.name} (.npy per corruption)"

    def available(self):
        return [c for c in CORRUPTIONS if (self.root / f"{c}.npy").is_file()]

    def load(self, corruption, severity):
        _check_severity(severity)
        name = get_corruption(corruption).name
        path = self.root / f"{name}.npy"
        if not path.is_file():
            raise FileNotFoundError(
                f"{str(self.root)!r} has no {name}.npy. Available: {self.available()}"
            )
        images = np.load(path, mmap_mode="r")
        if len(images) != len(self.labels):
            raise ValueError(
                f"{str(path)!r} holds {len(images)} images but labels.npy "
                f"{len(self.labels)}."
            )
        start = (severity - 1) * self.per_severity
        count = self.per_severity
        if self.max_examples is not None:
            count = min(count, self.max_examples)
        return (
            np.ascontiguousarray(images[start : start + count]),
            np.asarray(self.labels[start : start + count]),
        )


class ImageFolderCorruptions(CorruptionSource):
    """The released TinyImageNet-C / ImageNet-C layout: image files per severity.

    Layout: `<root>/<corruption>/<severity>/<class>/<image>` (JPEG/PNG).

    Args:
        root: str or path-like, e.g. `Tiny-ImageNet-C/`.
        class_names: sequence of str or None, the label order: pass the
            network's dataset's `class_names` (for TinyImageNet, the wnids as
            `keras_tna.data.load("tinyimagenet:...")` orders them). `None`:
            the sorted class folder names.
        image_size: int, tuple or None, resize images to this size.
        max_examples: int or None, use at most this many images per variant
            (every k-th file, so all classes stay represented).
    """

    kind = RELEASED
    _EXTENSIONS = {".jpeg", ".jpg", ".png", ".bmp"}

    def __init__(self, root, class_names=None, image_size=None, max_examples=None):
        self.root = pathlib.Path(os.fspath(root)).expanduser()
        if not self.root.is_dir():
            raise FileNotFoundError(f"No corrupted-image folder at {str(self.root)!r}.")
        if not self.available():
            raise ValueError(
                f"{str(self.root)!r} has no <corruption>/<severity>/<class>/ folders "
                f"with a known corruption name ({', '.join(CORRUPTIONS)})."
            )
        self.class_names = tuple(class_names) if class_names is not None else None
        self.image_size = image_size
        self.max_examples = max_examples
        self.description = f"released folder {self.root.name} (images per severity)"

    def available(self):
        return [c for c in CORRUPTIONS if (self.root / c).is_dir()]

    def load(self, corruption, severity):
        from PIL import Image

        _check_severity(severity)
        name = get_corruption(corruption).name
        folder = self.root / name / str(severity)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"No folder {str(folder)!r}. Available corruptions: {self.available()}"
            )
        classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
        names = self.class_names if self.class_names is not None else tuple(classes)
        index = {n: i for i, n in enumerate(names)}
        unknown = [c for c in classes if c not in index]
        if unknown:
            raise ValueError(
                f"{str(folder)!r} has class folders {unknown[:5]} that the network's "
                f"dataset does not have ({len(names)} classes); the corrupted set "
                "does not match the network's dataset."
            )
        files = [
            (path, index[c])
            for c in classes
            for path in sorted((folder / c).iterdir())
            if path.suffix.lower() in self._EXTENSIONS
        ]
        if self.max_examples is not None and len(files) > self.max_examples:
            picks = np.linspace(0, len(files) - 1, self.max_examples).astype(int)
            files = [files[i] for i in picks]
        size = self.image_size
        if isinstance(size, int):
            size = (size, size)
        images = []
        for path, _ in files:
            image = Image.open(path).convert("RGB")
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.BILINEAR)
            images.append(np.asarray(image))
        shapes = {i.shape for i in images}
        if len(shapes) > 1:
            raise ValueError(
                f"{str(folder)!r} holds images of several sizes {sorted(shapes)[:3]}; "
                "pass `image_size=` to resize them."
            )
        return np.stack(images), np.array([label for _, label in files], np.int64)


def _safe(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_")[:80] or "data"


class GeneratedCorruptions(CorruptionSource):
    """Corruptions generated from a clean test set, seeded and cached.

    The images are corrupted with `corrupt_images` (imagecorruptions-imaug,
    ImageNet-C's parameters) in a pool of `num_workers` processes, started on
    first use and kept until `close()` (or use the source as a context
    manager), and cached as
    `<cache_dir>/<dataset>-<fingerprint>/<corruption>_<severity>_seed<seed>_n<n>.npy`,
    so a second evaluation reads them back. The fingerprint is a hash of the
    clean images, so a changed test set never reuses a stale cache.
    Results from this source are labelled "generated": ImageNet-C's
    severities differ from those of the released CIFAR-10-C/TinyImageNet-C.

    Args:
        images: uint8 array `(n, h, w, c)`, the clean test images (at least
            32x32), e.g. from `keras_tna.data.load_raw(name, "test")`.
        labels: int array `(n,)`.
        dataset: str, the dataset's name (part of the cache key).
        seed: int.
        cache_dir: str, path-like or None; `None` disables caching.
        num_workers: int or None, worker processes (`None`: the CPUs, max 8).
        class_names: sequence of str or None, the label order.

    Examples:

    ```python
    images, labels = keras_tna.data.load_raw("folder:~/data/cifar10-jpeg", "test")
    source = GeneratedCorruptions(images, labels, "cifar10-jpeg",
                                  cache_dir="~/.cache/keras_tna/corruptions")
    frosty, labels = source.load("frost", 3)
    ```
    """

    kind = GENERATED

    def __init__(
        self,
        images,
        labels,
        dataset,
        seed=0,
        cache_dir=None,
        num_workers=None,
        class_names=None,
    ):
        self.images = _check_images(images)
        self.labels = np.asarray(labels)
        if len(self.images) != len(self.labels):
            raise ValueError(
                f"Images and labels differ in length. Received: {len(self.images)} "
                f"images and {len(self.labels)} labels"
            )
        self.dataset = str(dataset)
        self.seed = int(seed)
        self.num_workers = default_num_workers() if num_workers is None else int(num_workers)
        self.class_names = tuple(class_names) if class_names is not None else None
        self.cache_dir = None
        if cache_dir is not None:
            fingerprint = hashlib.sha1(self.images.tobytes()).hexdigest()[:12]
            self.cache_dir = (
                pathlib.Path(os.fspath(cache_dir)).expanduser()
                / f"{_safe(self.dataset)}-{fingerprint}"
            )
        self.description = (
            f"generated from {self.dataset} test images with imagecorruptions-imaug "
            f"(ImageNet-C severities), seed {self.seed}"
        )
        self.generated_count = 0  # variants computed (not read from the cache)
        self._executor = None

    def available(self):
        return list(CORRUPTIONS)

    def cache_path(self, corruption, severity):
        """Where a variant is cached (None without a cache dir)."""
        if self.cache_dir is None:
            return None
        name = get_corruption(corruption).name
        return self.cache_dir / f"{name}_{severity}_seed{self.seed}_n{len(self.images)}.npy"

    def _cached(self, corruption, severity):
        path = self.cache_path(corruption, severity)
        if path is not None and path.is_file():
            images = np.load(path)
            if images.shape == self.images.shape and images.dtype == np.uint8:
                return images
        return None

    def _store(self, corruption, severity, images):
        path = self.cache_path(corruption, severity)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        with open(partial, "wb") as f:
            np.save(f, images)
        os.replace(partial, path)

    def _pool(self):
        """The worker pool, started on first use and kept until `close()`."""
        if self.num_workers <= 1:
            return None
        if self._executor is None:
            self._executor = _executor(self.num_workers)
            self._finalizer = weakref.finalize(self, self._executor.shutdown)
        return self._executor

    def close(self):
        """Stops the worker processes (also done when the source is garbage collected)."""
        if self._executor is not None:
            self._finalizer()
            self._executor = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _generate(self, corruption, severity):
        images = _corrupt(self.images, corruption, severity, self.seed, self._pool())
        self.generated_count += 1
        self._store(corruption, severity, images)
        return images

    def prepare(self, variants):
        """Generates every missing `(corruption, severity)` variant into the cache."""
        if self.cache_dir is None:
            return  # nothing to keep: `load` generates on demand
        for c, s in variants:
            _check_severity(s)
            if self._cached(c, s) is None:
                self._generate(get_corruption(c).name, s)

    def load(self, corruption, severity):
        _check_severity(severity)
        cached = self._cached(corruption, severity)
        if cached is not None:
            return cached, self.labels
        return self._generate(get_corruption(corruption).name, severity), self.labels


# ---- evaluation ------------------------------------------------------------
class CorruptionResult:
    """Scores of one network on corrupted variants of a test set.

    Attributes:
        scores: dict `{(corruption, severity): {metric: value}}`.
        clean: dict `{metric: value}` on the clean test set, or None.
        metric: str, the metric summarised (default "accuracy").
        kind: "released" or "generated".
        description: str, where the corrupted images came from.
    """

    def __init__(self, scores, clean, metric, kind, description):
        self.scores = dict(scores)
        self.clean = clean
        self.metric = metric
        self.kind = kind
        self.description = description

    @property
    def corruptions(self):
        seen = []
        for c, _ in self.scores:
            if c not in seen:
                seen.append(c)
        return seen

    def value(self, corruption, severity):
        return float(self.scores[(corruption, severity)][self.metric])

    def per_corruption(self):
        """`{corruption: mean over severities}` (Table 6's entries)."""
        out = {}
        for c in self.corruptions:
            values = [v[self.metric] for (name, _), v in self.scores.items() if name == c]
            out[c] = float(np.mean(values))
        return out

    def mean(self, corruptions=COMMON_CORRUPTIONS):
        """Mean over the given corruptions (default: the 15 common ones present)."""
        per = self.per_corruption()
        values = [per[c] for c in corruptions if c in per]
        if not values:
            raise ValueError("No scores for the requested corruptions.")
        return float(np.mean(values))

    def errors(self):
        """`{(corruption, severity): 1 - accuracy}`."""
        return {key: 1.0 - float(v[self.metric]) for key, v in self.scores.items()}

    def __repr__(self):
        clean = f", clean {self.clean[self.metric]:.4f}" if self.clean else ""
        return (
            f"CorruptionResult({len(self.scores)} variants, mean {self.metric} "
            f"{self.mean():.4f}{clean}, {self.kind})"
        )


def corruption_errors(errors, reference_errors=None, clean_error=None, reference_clean_error=None):
    """Corruption error CE_c per corruption (Hendrycks & Dietterich 2019).

    Args:
        errors: dict `{(corruption, severity): error}` of the network (error =
            1 - top-1 accuracy), e.g. `CorruptionResult.errors()`.
        reference_errors: dict like `errors` of the reference network, or
            None. With it, `CE_c = sum_s E_{s,c} / sum_s E_{s,c}(reference)`
            (Hendrycks & Dietterich normalise by AlexNet; this package's apps
            normalise by the single-trained baseline, since no AlexNet errors
            exist for CIFAR or TinyImageNet). Without it, `CE_c` is the
            unnormalised mean error over severities.
        clean_error: float or None. With `reference_clean_error`, gives the
            relative CE: `sum_s (E_{s,c} - E_clean) / sum_s (E_{s,c}(ref) -
            E_clean(ref))`.
        reference_clean_error: float or None.

    Returns:
        dict `{corruption: CE}`; the mCE is the mean over corruptions.

    Examples:

    >>> e = {("fog", 1): 0.25, ("fog", 2): 0.5}
    >>> ref = {("fog", 1): 0.5, ("fog", 2): 0.5}
    >>> corruption_errors(e, ref)
    {'fog': 0.75}
    >>> corruption_errors(e)
    {'fog': 0.375}
    """
    names = []
    for c, _ in errors:
        if c not in names:
            names.append(c)
    relative = clean_error is not None or reference_clean_error is not None
    if relative and (clean_error is None or reference_clean_error is None or reference_errors is None):
        raise ValueError(
            "The relative CE needs `reference_errors`, `clean_error` and "
            "`reference_clean_error`."
        )
    out = {}
    for c in names:
        severities = sorted(s for name, s in errors if name == c)
        own = [errors[(c, s)] for s in severities]
        if reference_errors is None:
            out[c] = float(np.mean(own))
            continue
        missing = [s for s in severities if (c, s) not in reference_errors]
        if missing:
            raise ValueError(
                f"The reference has no error for {c} at severities {missing}; "
                "evaluate both networks on the same variants."
            )
        ref = [reference_errors[(c, s)] for s in severities]
        if relative:
            numerator = sum(e - clean_error for e in own)
            denominator = sum(e - reference_clean_error for e in ref)
        else:
            numerator, denominator = sum(own), sum(ref)
        out[c] = float(numerator / denominator) if denominator else float("nan")
    return out


def evaluate_corruptions(
    model,
    source,
    normalize,
    corruptions=COMMON_CORRUPTIONS,
    severities=SEVERITIES,
    clean=None,
    evaluator=None,
    metric="accuracy",
    batch_size=256,
    class_names=None,
):
    """Evaluates a network on corrupted variants of its test set.

    Args:
        model: keras.Model, a classifier (logits out).
        source: `CorruptionSource`, where the corrupted images come from.
        normalize: callable mapping uint8 images to the network's input
            (e.g. `keras_tna.data.load(name, ...).normalize`, the normalisation
            the network was trained with).
        corruptions: sequence of str (canonical or TFDS names); default the
            15 common corruptions.
        severities: sequence of ints in 1..5.
        clean: `(images uint8, labels)` of the clean test set, or None.
        evaluator: `Evaluator` or None (top-1 `Accuracy`).
        metric: str, the evaluator's key that is summarised.
        batch_size: int, evaluation batch size.
        class_names: sequence of str or None, the network's dataset's class
            names; checked against `source.class_names` when both are known.

    Returns:
        A `CorruptionResult`.

    Examples:

    ```python
    bundle = keras_tna.data.load("cifar10", batch_size=256)
    result = evaluate_corruptions(base, TFDSCorruptions(), bundle.normalize,
                                  class_names=bundle.class_names)
    result.per_corruption()["fog"], result.mean()
    ```
    """
    common.check_model(model)
    if not isinstance(source, CorruptionSource):
        raise TypeError(
            "`source` must be a CorruptionSource (TFDSCorruptions, "
            "ArrayFolderCorruptions, ImageFolderCorruptions, GeneratedCorruptions). "
            f"Received: {type(source).__name__}"
        )
    if not callable(normalize):
        raise TypeError(f"`normalize` must be callable. Received: {normalize!r}")
    if isinstance(corruptions, str):
        raise TypeError(f"`corruptions` must be a list of names. Received: {corruptions!r}")
    names = [get_corruption(c).name for c in corruptions]
    for s in severities:
        _check_severity(s)
    missing = [c for c in names if c not in source.available()]
    if missing:
        raise ValueError(
            f"{source.description} has no {missing}. Available: {source.available()}"
        )
    if (
        class_names is not None
        and source.class_names is not None
        and tuple(class_names) != tuple(source.class_names)
    ):
        raise ValueError(
            "The corrupted set's classes differ from the network's dataset's "
            f"(mismatched datasets). Network: {tuple(class_names)[:10]}...; "
            f"corruptions: {tuple(source.class_names)[:10]}..."
        )
    evaluator = evaluator or common.Accuracy(batch_size=batch_size)

    def run(images, labels):
        images = np.asarray(images)
        batches = (
            (normalize(images[s : s + batch_size]), labels[s : s + batch_size])
            for s in range(0, len(images), batch_size)
        )
        scores = evaluator(model, batches)
        if metric not in scores:
            raise ValueError(
                f"The evaluator returned {sorted(scores)}, without {metric!r}; "
                "pass `metric=` naming one of its keys."
            )
        return scores

    clean_scores = run(*clean) if clean is not None else None
    source.prepare([(c, s) for c in names for s in severities])
    scores = {}
    for c in names:
        for s in severities:
            scores[(c, s)] = run(*source.load(c, s))
    return CorruptionResult(scores, clean_scores, metric, source.kind, source.description)
