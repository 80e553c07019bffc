"""`load` (batched, augmented, normalised tf.data pipelines) and `load_raw`.

The training pipeline, in order: the raw uint8 images (decoded once and kept
in memory, unless streaming) -> seeded shuffle, reshuffled each epoch -> batch
-> random pad-and-crop + flip of the whole batch, then normalisation, in one
parallel map -> prefetch. For ImageNet-style data (random-resized crop) the
crop is per image, before batching. All randomness is stateless and derived
from `seed`, so two pipelines with the same seed yield the same batches.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_tna.data import augment
from keras_tna.data import registry
from keras_tna.data import source

SPLITS = ("train", "test")
# Shuffle buffer for streamed datasets (in-memory ones shuffle all examples).
STREAMING_SHUFFLE_BUFFER = 10_000
PAD_FILLS = source.PAD_FILLS


@dataclasses.dataclass(frozen=True)
class DatasetBundle(source.Bundle):
    """A dataset ready for `fit` as tf.data pipelines (fields: `source.Bundle`).

    `train` yields `(float32 normalised images, int32 labels)` batches,
    shuffled with the seed (reshuffled each epoch), augmented and prefetched,
    or is None for a dataset without a training split (`cifar10_corrupted/...`);
    `test` yields batches in a fixed order, not augmented. `name` is the name
    given to `load`.
    """

    def normalize(self, images):
        """Normalises raw images the way this bundle's pipelines do.

        For images from `load_raw` (e.g. after corrupting them): pixels in
        [0, 255] -> `(x / 255 - mean) / std`.

        Args:
            images: uint8 or float array or tensor, `(..., *input_shape)`. A
                numpy array gives a numpy array, a tensor a tensor.

        Returns:
            float32 normalised images.

        Examples:

        ```python
        bundle = keras_tna.data.load("cifar10", batch_size=256)
        images, labels = keras_tna.data.load_raw("cifar10", "test")
        logits = model.predict(bundle.normalize(images))
        ```
        """
        return augment.normalize(images, self.mean, self.std)


def load(
    name,
    *,
    batch_size,
    data_dir=None,
    seed=0,
    augment=True,
    image_size=None,
    shuffle_buffer=None,
    cache=None,
    drop_remainder=False,
    download=False,
    manual_dir=None,
    mean=None,
    std=None,
    pad_fill="zero",
):
    """Loads a dataset as batched, augmented, normalised `tf.data` pipelines.

    Names (see `available()`): `digits` (sklearn's 8x8 digits, offline),
    `cifar10`, `cifar100`, `imagenet2012`, `cifar10_corrupted/<c>_<severity>`
    (TFDS, never downloaded unless `download=True`), `folder:<path>` (an image
    folder `train/<class>/*`, `test/<class>/*`), `tinyimagenet:<path>`.

    Augmentation (the paper's recipe): 32 and 64 pixel data get a random crop
    after zero-padding by 4 pixels and a horizontal flip; ImageNet and folders
    of larger images a random-resized crop and flip; digits a pad-1 crop and
    no flip. Normalisation: per-channel mean/std, known constants for the TFDS
    datasets, computed from the training images for digits and folders.

    Args:
        name: str, a dataset name, e.g. `"cifar10"` or `"folder:/data/pets"`.
        batch_size: int, examples per batch.
        data_dir: str or None, TFDS data directory (default: `TFDS_DATA_DIR`
            read at call time, else TFDS's default).
        seed: int, seeds the shuffle order and the augmentation.
        augment: bool, whether to augment the training split.
        image_size: None, int or tuple `(height, width)`: resize all images
            to this size (ImageNet: the crop size, default 224). Image folders
            without it must hold images of a single size.
        shuffle_buffer: int or None, shuffle buffer size; default: the whole
            training set when in memory, else 10,000.
        cache: bool or None, keep the decoded uint8 images in memory (so each
            epoch costs only augmentation); default: True except for
            `imagenet2012`.
        drop_remainder: bool, drop the last incomplete training batch.
        download: bool, let TFDS download and prepare a missing dataset
            (the network is checked first).
        manual_dir: str or None, the folder holding ImageNet's
            `ILSVRC2012_img_*.tar` files (with `download=True`).
        mean: sequence of floats or None, per-channel mean in [0, 1] units,
            overriding the dataset's.
        std: sequence of floats or None, per-channel std, overriding the
            dataset's.
        pad_fill: str, what the pad-and-crop augmentation pads with (one of
            `PAD_FILLS`): `"zero"` pads the raw pixels with 0 (black), as
            `torchvision.transforms.RandomCrop(padding=4)` applied before
            `Normalize`; `"mean"` normalises first and pads with 0, i.e. the
            dataset's mean colour, which is what the paper's PyTorch code
            does (`ToTensor, Normalize, RandomCrop(32, padding=4)`).

    Returns:
        A `DatasetBundle`.

    Examples:

    ```python
    bundle = keras_tna.data.load("digits", batch_size=64, image_size=32)
    bundle = keras_tna.data.load("folder:~/data/cifar10-jpeg", batch_size=256)
    model = keras_tna.models.build("convnet", bundle.num_classes, bundle.input_shape)
    model.fit(bundle.train, validation_data=bundle.test, epochs=200)
    ```
    """
    batch_size = source.positive_int("batch_size", batch_size)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int. Received: seed={seed!r}")
    if shuffle_buffer is not None:
        shuffle_buffer = source.positive_int("shuffle_buffer", shuffle_buffer)
    if pad_fill not in PAD_FILLS:
        raise ValueError(
            f"pad_fill must be one of {PAD_FILLS}. Received: pad_fill={pad_fill!r}"
        )
    spec, argument = registry.resolve(name)
    src = spec.loader(
        argument,
        _options(spec.splits, data_dir, image_size, cache, download, manual_dir),
    )
    channels = src.input_shape[-1]
    mean = _channel_values("mean", mean, channels) or src.mean
    std = _channel_values("std", std, channels) or src.std
    if any(s <= 0 for s in std):
        raise ValueError(f"std must be positive. Received: std={std}")
    train = None
    if src.train is not None:
        train = _train_pipeline(
            src, batch_size, seed, augment, shuffle_buffer, cache, drop_remainder,
            mean, std, pad_fill,
        )
    test = _batch_and_normalize(src.test.dataset, batch_size, False, mean, std)
    return DatasetBundle(
        train=train,
        test=test,
        num_classes=len(src.class_names),
        input_shape=tuple(src.input_shape),
        num_train=src.train.num_examples if src.train is not None else 0,
        num_test=src.test.num_examples,
        class_names=tuple(src.class_names),
        name=name,
        mean=tuple(float(m) for m in mean),
        std=tuple(float(s) for s in std),
    )


def load_raw(
    name,
    split="test",
    *,
    data_dir=None,
    image_size=None,
    download=False,
    manual_dir=None,
    max_examples=None,
):
    """A split's raw images and labels as numpy arrays: uint8, not normalised.

    The same images (same order, same resizing) that `load(name, ...)` puts in
    its `test` pipeline (or, for `split="train"`, feeds to the augmentation),
    for analysis code that transforms images itself, e.g. corrupting them
    before `DatasetBundle.normalize`. Pass the same `image_size` as to `load`.
    ImageNet images are resized and centre-cropped to `image_size` (224).

    Args:
        name: str, a dataset name (see `load`).
        split: str, `"train"` or `"test"`.
        data_dir: str or None, TFDS data directory.
        image_size: None, int or tuple `(height, width)`, as for `load`.
        download: bool, as for `load`.
        manual_dir: str or None, as for `load`.
        max_examples: int or None, read only the first this many examples.

    Returns:
        `(images, labels)`: uint8 array `(n, height, width, channels)` and
        int32 array `(n,)`.

    Examples:

    ```python
    images, labels = keras_tna.data.load_raw("cifar10_corrupted/fog_3", "test")
    bundle = keras_tna.data.load("cifar10", batch_size=256)
    accuracy = np.mean(model.predict(bundle.normalize(images)).argmax(-1) == labels)
    ```
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}. Received: split={split!r}")
    if max_examples is not None:
        max_examples = source.positive_int("max_examples", max_examples)
    spec, argument = registry.resolve(name)
    if split not in spec.splits:
        raise ValueError(
            f"{name} has no {split!r} split, only {spec.splits}. "
            f"Received: split={split!r}"
        )
    src = spec.loader(
        argument, _options((split,), data_dir, image_size, True, download, manual_dir)
    )
    data = getattr(src, split)
    if data.in_memory:
        return data.images[:max_examples], data.labels[:max_examples]
    dataset = data.dataset
    if split == "train" and src.eval_transform is not None:
        dataset = dataset.map(
            lambda x, y: (src.eval_transform(x), y), num_parallel_calls=tf.data.AUTOTUNE
        )
    if max_examples is not None:
        dataset = dataset.take(max_examples)
    return source.materialize(dataset)


def _options(splits, data_dir, image_size, cache, download, manual_dir):
    if cache is not None and not isinstance(cache, bool):
        raise TypeError(f"cache must be a bool or None. Received: cache={cache!r}")
    return source.Options(
        splits=splits,
        data_dir=None if data_dir is None else str(data_dir),
        image_size=source.parse_image_size(image_size),
        cache=cache,
        download=bool(download),
        manual_dir=None if manual_dir is None else str(manual_dir),
    )


def _train_pipeline(
    src, batch_size, seed, augment_, shuffle_buffer, cache, drop_remainder, mean, std,
    pad_fill="zero",
):
    split = src.train
    dataset = split.dataset
    use_cache = src.default_cache if cache is None else cache
    if use_cache and not split.in_memory:
        dataset = dataset.cache()
    if shuffle_buffer is None:
        shuffle_buffer = (
            split.num_examples if split.in_memory or use_cache else STREAMING_SHUFFLE_BUFFER
        )
    shuffle_seed, augment_seed = stream_seeds(seed)
    dataset = dataset.shuffle(
        min(shuffle_buffer, split.num_examples),
        seed=shuffle_seed,
        reshuffle_each_iteration=True,
    )
    policy = src.augmentation
    size = src.input_shape[:2]
    if policy.kind == "resized_crop":
        if augment_:
            dataset = _with_seeds(dataset, augment_seed).map(
                lambda xy, s: (
                    augment.random_resized_crop(xy[0], s, size, flip=policy.flip),
                    xy[1],
                ),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        elif src.eval_transform is not None:
            dataset = dataset.map(
                lambda x, y: (src.eval_transform(x), y),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        return _batch_and_normalize(dataset, batch_size, drop_remainder, mean, std)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if augment_:

        def crop_and_normalize(images, seeds):
            if pad_fill == "mean":  # normalise, then pad with 0 = the mean colour
                images = augment.normalize(images, mean, std)
            images = augment.random_pad_crop_flip(images, seeds, policy.pad, policy.flip)
            if pad_fill == "zero":  # pad the raw pixels with 0 (black), then normalise
                images = augment.normalize(images, mean, std)
            return images

        dataset = _with_seeds(dataset, augment_seed).map(
            lambda xy, s: (crop_and_normalize(xy[0], s), xy[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    else:
        dataset = dataset.map(
            lambda x, y: (augment.normalize(x, mean, std), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def stream_seeds(seed):
    """The op seeds of the shuffle and of the augmentation, both from `seed`.

    `tf.data`'s shuffle and `Dataset.random` given the same op seed draw the
    same Philox numbers (the first example of every epoch's order was picked
    by the very number that seeded the first batch's crops). Each stream gets
    its own seed, mixed from `(seed, stream)` by `numpy.random.SeedSequence`.

    Args:
        seed: int, the pipeline's seed.

    Returns:
        tuple of two ints in `[0, 2**31)`: `(shuffle_seed, augment_seed)`.

    Examples:

    >>> shuffle_seed, augment_seed = stream_seeds(0)
    >>> shuffle_seed != augment_seed
    True
    """
    return tuple(
        int(np.random.SeedSequence([int(seed), stream]).generate_state(1)[0] >> 1)
        for stream in (0, 1)
    )


def _with_seeds(dataset, seed):
    """Zips each element with a fresh stateless seed, new ones each epoch."""
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip((dataset, seeds))


def _batch_and_normalize(dataset, batch_size, drop_remainder, mean, std):
    return (
        dataset.batch(batch_size, drop_remainder=drop_remainder)
        .map(
            lambda x, y: (augment.normalize(x, mean, std), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .prefetch(tf.data.AUTOTUNE)
    )


def _channel_values(what, values, channels):
    if values is None:
        return None
    try:
        floats = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        floats = ()
    if len(floats) != channels:
        raise ValueError(
            f"{what} must hold one float per channel ({channels}). "
            f"Received: {what}={values!r}"
        )
    return floats
