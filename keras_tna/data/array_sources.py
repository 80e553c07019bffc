"""Datasets read into memory without TensorFlow: the loaders and their cache.

The registry's `arrays_loader`s (`load_digits_arrays`, `load_folder_arrays`,
`load_tinyimagenet_arrays`): `(argument, ArrayOptions) -> source.Source` with
in-memory uint8 splits (`dataset=None`), which `keras_tna.data.arrays.load_arrays`
batches. Image folders are decoded once (`data.images`) and cached as `.npy`
files under `ArrayOptions.cache_dir`, keyed by the folder, every file's size
and modification time and the image size. Part of `keras_tna.data`'s
TensorFlow-free path.
"""

import dataclasses
import hashlib
import json
import os
import pathlib
from typing import Optional

import numpy as np

from keras_tna.data import digits
from keras_tna.data import images as image_files
from keras_tna.data import layout
from keras_tna.data import source


# Bump when the cached arrays' meaning changes (decoder, resize, layout).
CACHE_VERSION = 1
DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "keras_tna", "arrays")


@dataclasses.dataclass(frozen=True)
class ArrayOptions:
    """The loader-relevant arguments of `load_arrays`.

    Attributes:
        image_size: None or tuple `(height, width)`.
        cache_dir: str or None, where decoded folders are cached (None: no
            cache).
        decode_threads: int, threads decoding image files.
    """

    image_size: Optional[tuple] = None
    cache_dir: Optional[str] = None
    decode_threads: int = 1


# ---------------------------------------------------------------- loaders
# The registry's `arrays_loader`s: `(argument, ArrayOptions) -> source.Source`
# with in-memory splits (`dataset=None`).


def load_digits_arrays(argument, options):
    """`digits` without TensorFlow: `digits.load_digits`'s split and policy."""
    del argument
    return digits.digits_source(options.image_size, image_files.resize_all, _array_split)


def load_folder_arrays(argument, options):
    """`folder:<path>` without TensorFlow (see `layout.folder_files`)."""
    files, class_names, root = layout.folder_files(argument)
    return _image_source("folder", files, class_names, options, root)


def load_tinyimagenet_arrays(argument, options):
    """`tinyimagenet:<path>` without TensorFlow (see `layout.tinyimagenet_files`)."""
    files, class_names, root = layout.tinyimagenet_files(argument)
    return _image_source("tinyimagenet", files, class_names, options, root)


def _array_split(images, labels):
    images = np.ascontiguousarray(images, np.uint8)
    return source.Split(None, len(labels), images, np.asarray(labels, np.int32))


def _image_source(kind, files, class_names, options, root):
    entry = None
    if options.cache_dir is not None:
        key = _cache_key(kind, root, files, options.image_size)
        entry = pathlib.Path(options.cache_dir) / f"{root.name or 'root'}-{key}"
    cached = _read_cache(entry)
    if cached is None:
        target = options.image_size or image_files.first_size(files["train"][0][0], root)
        arrays = {
            split: image_files.read_images(
                files[split][0], root, target, options.image_size, options.decode_threads
            )
            for split in ("train", "test")
        }
        mean, std = source.channel_stats(arrays["train"])
        if entry is not None:
            _write_cache(entry, arrays, mean, std)
    else:
        arrays, mean, std = cached
    height, width = arrays["train"].shape[1:3]
    return source.Source(
        class_names=class_names,
        input_shape=(height, width, 3),
        train=_array_split(arrays["train"], files["train"][1]),
        test=_array_split(arrays["test"], files["test"][1]),
        augmentation=layout.augmentation_for_size(height, width),
        mean=tuple(mean),
        std=tuple(std),
    )


# ---------------------------------------------------------------- cache


def resolve_cache_dir(cache_dir):
    """`load_arrays`' `cache_dir` as `ArrayOptions.cache_dir`: a str, or None for no cache.

    Args:
        cache_dir: None, str, path-like or False. None: `DEFAULT_CACHE_DIR`;
            False: no cache.

    Returns:
        str (user-expanded) or None.

    Raises:
        TypeError: any other value.
    """
    if cache_dir is False:
        return None
    if cache_dir is None:
        cache_dir = DEFAULT_CACHE_DIR
    if not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(
            "cache_dir must be None (default folder), a path, or False (no cache). "
            f"Received: cache_dir={cache_dir!r}"
        )
    return os.path.expanduser(os.fspath(cache_dir))


def _cache_key(kind, root, files, image_size):
    """Hash of the folder, each file's path, size, mtime and label, and the size."""
    digest = hashlib.sha256()
    header = {
        "version": CACHE_VERSION,
        "kind": kind,
        "root": str(root.resolve()),
        "image_size": image_size,
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for split in ("train", "test"):
        paths, labels = files[split]
        for path, label in zip(paths, labels):
            stat = os.stat(path)
            digest.update(
                f"{split}\0{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{label}\n".encode()
            )
    return digest.hexdigest()[:24]


def _read_cache(entry):
    if entry is None or not (entry / "meta.json").is_file():
        return None
    meta = json.loads((entry / "meta.json").read_text())
    arrays = {split: np.load(entry / f"{split}.npy") for split in ("train", "test")}
    return arrays, meta["mean"], meta["std"]


def _write_cache(entry, arrays, mean, std):
    """Writes the arrays, then `meta.json` (its presence marks a whole entry)."""
    try:
        entry.mkdir(parents=True, exist_ok=True)
        for split, images in arrays.items():
            _atomic(entry / f"{split}.npy", lambda f, x=images: np.save(f, x))
        meta = json.dumps({"mean": list(mean), "std": list(std)})
        _atomic(entry / "meta.json", lambda f: f.write(meta.encode()))
    except OSError as error:
        raise OSError(
            f"Cannot write the decoded-image cache in {entry}: {error}. Fix: pass "
            "cache_dir=<a writable folder>, or cache_dir=False to decode every time."
        ) from None


def _atomic(path, write):
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    with open(partial, "wb") as f:
        write(f)
    os.replace(partial, path)
