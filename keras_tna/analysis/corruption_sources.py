"""Where corrupted test images come from: the released sets or generated ones.

`TFDSCorruptions` (TFDS `cifar10_corrupted`), `ArrayFolderCorruptions`
(CIFAR-10-C `.npy` folders), `ImageFolderCorruptions` (TinyImageNet-C /
ImageNet-C image folders, read with `keras_tna.data.images`) and
`GeneratedCorruptions` (`corrupt_images` from a clean test set, cached).
"""

import hashlib
import os
import pathlib
import re
import weakref

import numpy as np

from keras_tna.analysis.corruption_catalog import (
    CORRUPTIONS,
    GENERATED,
    RELEASED,
    SEVERITIES,
    _check_images,
    _check_severity,
    _corrupt,
    _executor,
    default_num_workers,
    get_corruption,
)
from keras_tna import data
from keras_tna.data import images as image_files
from keras_tna.data import layout as data_layout
from keras_tna.data import source as data_source


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
    class_names = data_source.CIFAR10_CLASSES

    def __init__(self, data_dir=None, max_examples=None):
        self.data_dir = data_dir
        self.max_examples = max_examples
        self.description = "TFDS cifar10_corrupted (released CIFAR-10-C)"

    def available(self):
        return list(CORRUPTIONS)

    def load(self, corruption, severity):
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
            if path.suffix.lower() in data_layout.IMAGE_EXTENSIONS
        ]
        if self.max_examples is not None and len(files) > self.max_examples:
            picks = np.linspace(0, len(files) - 1, self.max_examples).astype(int)
            files = [files[i] for i in picks]
        size = self.image_size
        if isinstance(size, int):
            size = (size, size)
        images = []
        for path, _ in files:
            # The package's one image reader: 3 channels, TensorFlow's
            # antialiased bilinear resize (as the network's own dataset).
            image = image_files.read_image(path)
            if image is None:
                data_layout.raise_unreadable([path], folder)
            if size is not None and image.shape[:2] != tuple(size):
                image = image_files.resize(image, size)
            images.append(image)
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
