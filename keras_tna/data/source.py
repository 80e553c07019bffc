"""What every dataset loader returns: raw uint8 splits plus their metadata.

A loader (one per registry entry, see `registry.py`) turns a dataset name into a
`Source`; `pipeline.load` turns a `Source` into batched, augmented, normalised
`tf.data` pipelines. Keeping the raw uint8 images separate from the pipeline is
what lets `load_raw` hand the analysis code the very images `load` trains on.
"""

import dataclasses
from typing import Callable, Optional

import numpy as np

# What the pad-and-crop augmentation pads with: raw 0 (black) or the mean
# colour (normalise first, then pad with 0, as the paper's PyTorch code).
PAD_FILLS = ("zero", "mean")

# The random-resized crop (ImageNet, folders of images larger than 64 pixels),
# one definition for the tf.data path (`augment.random_resized_crop`) and the
# keras.ops path (`array_ops.sample_crop_boxes`): area fraction and aspect-ratio
# ranges, and the number of draws before the whole image is taken.
RESIZED_CROP_SCALE = (0.08, 1.0)
RESIZED_CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
RESIZED_CROP_ATTEMPTS = 10

# CIFAR-10's class names, indexed by label (TFDS `cifar10`, CIFAR-10-C).
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

# TensorFlow is imported inside `Split.from_arrays` (its one use), so that
# `Source`, `Augmentation` and `channel_stats` serve the TensorFlow-free loader
# (`array_sources.py`) too.


@dataclasses.dataclass(frozen=True)
class Options:
    """The loader-relevant arguments of `load` / `load_raw`."""

    splits: tuple  # the splits wanted, a subset of ("train", "test")
    data_dir: Optional[str] = None
    image_size: Optional[tuple] = None
    cache: Optional[bool] = None
    download: bool = False
    manual_dir: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Split:
    """One split: unbatched `(uint8 image, int32 label)` examples.

    Either in memory (`images`/`labels` arrays, `dataset` built from them) or
    streamed (`dataset` only, read from files each epoch). The TensorFlow-free
    loader (`array_sources.py`) makes in-memory splits with `dataset=None`.
    """

    dataset: Optional["tf.data.Dataset"]
    num_examples: int
    images: Optional[np.ndarray] = None
    labels: Optional[np.ndarray] = None

    @classmethod
    def from_arrays(cls, images, labels):
        images = np.ascontiguousarray(images, np.uint8)
        labels = np.asarray(labels, np.int32)
        import tensorflow as tf

        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
        return cls(dataset, len(labels), images, labels)

    @property
    def in_memory(self):
        return self.images is not None


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """A dataset's training augmentation.

    `kind` is "pad_crop" (`augment.random_pad_crop_flip` on whole batches,
    zero padding of `pad` pixels) or "resized_crop"
    (`augment.random_resized_crop` per image). `flip` adds the horizontal flip.
    """

    kind: str
    pad: int = 0
    flip: bool = True


@dataclasses.dataclass(frozen=True)
class Source:
    """A dataset's raw splits and metadata, as a loader returns them.

    `train` is None when the dataset has no training split (or it was not
    asked for). `mean`/`std` may be None when `train` was not asked for and
    they come from the training images. `eval_transform`, when set, maps one
    raw training image of any size to `input_shape` (for datasets whose raw
    training images vary in size; used when not augmenting).
    """

    class_names: tuple
    input_shape: tuple
    train: Optional[Split]
    test: Optional[Split]
    augmentation: Augmentation
    mean: Optional[tuple] = None
    std: Optional[tuple] = None
    default_cache: bool = True
    eval_transform: Optional[Callable] = None


@dataclasses.dataclass(frozen=True)
class Bundle:
    """A dataset ready for `fit`: the fields `load` and `load_arrays` both return.

    `keras_tna.data.DatasetBundle` (tf.data pipelines) and
    `keras_tna.data.ArrayBundle` (`keras.utils.PyDataset`s) subclass it and
    add `normalize`.

    Attributes:
        train: the training batches (shuffled, augmented), or None for
            datasets without a training split.
        test: the test batches, in a fixed order, not augmented.
        num_classes: int.
        input_shape: tuple `(height, width, channels)` of the images.
        num_train: int, training examples (0 without a training split).
        num_test: int, test examples.
        class_names: tuple of str, indexed by label.
        name: str, the dataset name as given to the loader.
        mean: tuple of floats, per-channel mean in [0, 1] units.
        std: tuple of floats, per-channel std in [0, 1] units.
    """

    train: object
    test: object
    num_classes: int
    input_shape: tuple
    num_train: int
    num_test: int
    class_names: tuple
    name: str
    mean: tuple
    std: tuple


def channel_stats(images):
    """Exact per-channel mean and std of uint8 images, in [0, 1] units.

    Counts the 256 pixel values per channel (no float accumulation error, no
    float copy of the images).

    Args:
        images: uint8 array of shape `(..., channels)`.

    Returns:
        `(mean, std)`, two tuples of floats, one value per channel.
    """
    images = np.asarray(images, np.uint8)
    flat = images.reshape(-1, images.shape[-1])
    values = np.arange(256, dtype=np.float64) / 255.0
    means, stds = [], []
    for channel in range(flat.shape[1]):
        counts = np.bincount(flat[:, channel], minlength=256).astype(np.float64)
        total = counts.sum()
        mean = float(counts @ values / total)
        var = float(counts @ (values - mean) ** 2 / total)
        means.append(mean)
        stds.append(var**0.5)
    return tuple(means), tuple(stds)


def materialize(dataset, batch=4096):
    """Reads a finite `(image, label)` dataset of fixed-size images into arrays."""
    images, labels = [], []
    for x, y in dataset.batch(batch).as_numpy_iterator():
        images.append(x)
        labels.append(y)
    if not images:
        raise ValueError("The dataset is empty.")
    return np.concatenate(images), np.concatenate(labels).astype(np.int32)


def positive_int(name, value):
    """`value` as an int if it is a positive int, else a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int. Received: {name}={value!r}")
    return int(value)


def parse_image_size(image_size):
    """`load`'s `image_size` argument as None or a `(height, width)` tuple of ints."""
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    try:
        height, width = image_size
        return (positive_int("image_size", height), positive_int("image_size", width))
    except (TypeError, ValueError):
        raise ValueError(
            "image_size must be None, a positive int or a (height, width) pair of "
            f"positive ints. Received: image_size={image_size!r}"
        ) from None
