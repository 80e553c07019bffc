"""The data an analysis reads for its runs: their one dataset, its test set, batches.

The analysis programs (`keras_tna.cli.cka`, `probes`, `robustness`) check
that their runs share one dataset, load it as the runs were trained on it
(without augmentation), check that each network fits it, and walk a seeded
subset of its raw test images in normalised batches. The networks
themselves, features and evaluators are `keras_tna.analysis.common`'s.
"""

import numpy as np

from keras_tna import data
from keras_tna.analysis.common import num_classes


def check_same_dataset(runs):
    """Raises ValueError unless all runs were trained on one dataset (and size)."""
    keys = sorted({r.data_key for r in runs}, key=str)
    if len(keys) > 1:
        detail = ", ".join(f"{r.path}: {r.dataset} (image_size={r.image_size})" for r in runs)
        raise ValueError(
            f"The runs were trained on different datasets or image sizes ({keys}); "
            f"compare runs of one dataset at a time. Received: {detail}"
        )


def load_run_dataset(run, batch_size=256, data_dir=None):
    """The dataset a run was trained on, without augmentation.

    Args:
        run: `Run`.
        batch_size: int.
        data_dir: str or None; default: the run's own `--data_dir`.

    Returns:
        A `keras_tna.data.DatasetBundle` (`train` shuffled but not augmented,
        `test`, `normalize`, `class_names`, ...).
    """
    return data.load(
        run.dataset,
        batch_size=batch_size,
        data_dir=data_dir or run.data_dir,
        image_size=run.image_size,
        augment=False,
    )


def check_network_fits(model, bundle, where=""):
    """Raises ValueError unless `model` takes `bundle`'s images and classes."""
    expected = tuple(model.inputs[0].shape[1:])
    if tuple(bundle.input_shape) != expected:
        raise ValueError(
            f"Network {where or model.name!r} takes images of shape {expected} but "
            f"the dataset {bundle.name!r} has {tuple(bundle.input_shape)} "
            "(mismatched datasets)."
        )
    if num_classes(model) != bundle.num_classes:
        raise ValueError(
            f"Network {where or model.name!r} has {num_classes(model)} classes but "
            f"the dataset {bundle.name!r} has {bundle.num_classes} (mismatched "
            "class counts)."
        )


def take_examples(dataset, max_examples, batch_size):
    """The first `max_examples` examples of a batched dataset (all if None).

    Only for shuffled datasets (e.g. `DatasetBundle.train`): test splits may
    be ordered by class; use `random_subset` on them.
    """
    if max_examples is None:
        return dataset
    return dataset.unbatch().take(max_examples).batch(batch_size)


def random_subset(images, labels, max_examples, seed=0):
    """A seeded random subset of `max_examples` examples, in their original order.

    Test sets read from image folders are ordered by class, so their first
    examples are not a sample of the set.

    Examples:

    >>> import numpy as np
    >>> x, y = random_subset(np.arange(10), np.arange(10), 4)
    >>> len(y), bool(np.all(np.diff(y) > 0))
    (4, True)
    """
    if max_examples is None or max_examples >= len(labels):
        return images, labels
    rows = np.sort(np.random.default_rng(seed).choice(len(labels), max_examples, replace=False))
    return images[rows], labels[rows]


class NormalizedBatches:
    """Re-iterable `(normalize(images[i:i + b]), labels[i:i + b])` batches.

    Keeps the raw (uint8) images in memory and normalises one batch at a
    time, so a large test set is never held as float32 at once.

    Args:
        images: array `(n, h, w, c)`, raw images.
        labels: int array `(n,)`.
        normalize: callable, raw images -> network input
            (e.g. `DatasetBundle.normalize`).
        batch_size: int.
    """

    def __init__(self, images, labels, normalize, batch_size=256):
        self.images = images
        self.labels = np.asarray(labels)
        self.normalize = normalize
        self.batch_size = batch_size

    def __len__(self):
        return len(self.labels)

    def __iter__(self):
        for start in range(0, len(self.labels), self.batch_size):
            end = start + self.batch_size
            yield np.asarray(self.normalize(self.images[start:end])), self.labels[start:end]


def load_run_test_set(run, max_examples=None, data_dir=None, seed=0):
    """A run's raw test images and labels (uint8), a seeded random subset if asked.

    Args:
        run: `Run`.
        max_examples: int or None, the subset size (None: the whole test set).
        data_dir: str or None; default: the run's own `--data_dir`.
        seed: int, picks the subset.

    Returns:
        `(images, labels)` numpy arrays.
    """
    images, labels = data.load_raw(
        run.dataset, "test", data_dir=data_dir or run.data_dir, image_size=run.image_size
    )
    return random_subset(np.asarray(images), np.asarray(labels), max_examples, seed)
