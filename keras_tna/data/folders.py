"""Image folders on disk: `train/<class>/*` + `test/<class>/*`, and TinyImageNet.

Images are decoded once with `tf.io` (JPEG, PNG, BMP, GIF; always 3 channels;
resized to `image_size` if given, else all must share one size) and kept in
memory as uint8, so each epoch costs only augmentation. Every file is checked
while decoding: unreadable images and images of another size are reported by
name in one line, before any training starts. With `cache=False` the images are
decoded again each epoch instead; then only a sample is checked up front.
"""

import numpy as np
import tensorflow as tf

from keras_tna.data import augment
from keras_tna.data import layout
from keras_tna.data import source

# Without the in-memory cache, mean/std come from (and up-front checks cover)
# this many training images, drawn with a fixed seed.
STREAMING_SAMPLE = 10_000


def load_folder(argument, options):
    """`folder:<path>`: `<path>/train/<class>/*` and `<path>/test/<class>/*`.

    Class names are the sorted subfolder names of `train/` (the test folder may
    also be called `val/`). Files without an image extension are ignored.
    """
    files, class_names, root = layout.folder_files(argument)
    return _image_source(files, class_names, options, root)


def load_tinyimagenet(argument, options):
    """`tinyimagenet:<path>`: the layout of the official tiny-imagenet-200.zip.

    `train/<wnid>/images/*.JPEG` (500 per class) and `val/images/*.JPEG` with
    labels in `val/val_annotations.txt` (10,000 images): the validation set is
    the test split (the official test set has no labels). Class names are the
    sorted wnids.
    """
    files, class_names, root = layout.tinyimagenet_files(argument)
    return _image_source(files, class_names, options, root)


def _image_source(files, class_names, options, root):
    image_size = options.image_size
    in_memory = options.cache is None or options.cache
    # Without image_size, all images must share the first training image's size.
    target = image_size or _first_size(files["train"][0][0], root)
    splits = {}
    stats_images = None
    for split in options.splits:
        paths, labels = files[split]
        if in_memory:
            images = _decode_checked(paths, root, image_size, target)
            splits[split] = source.Split.from_arrays(images, labels)
            stats_images = images if split == "train" else stats_images
            continue
        rng = np.random.default_rng(0)
        sample = np.sort(rng.choice(len(paths), min(len(paths), STREAMING_SAMPLE), replace=False))
        images = _decode_checked([paths[i] for i in sample], root, image_size, target)
        stats_images = images if split == "train" else stats_images
        dataset = tf.data.Dataset.from_tensor_slices((paths, labels)).map(
            lambda p, y: (_decode_asserted(p, image_size, target), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        splits[split] = source.Split(dataset, len(paths))
    mean = std = None
    if stats_images is not None:
        mean, std = source.channel_stats(stats_images)
    height, width = target
    augmentation = layout.augmentation_for_size(height, width)
    return source.Source(
        class_names=class_names,
        input_shape=(height, width, 3),
        train=splits.get("train"),
        test=splits.get("test"),
        augmentation=augmentation,
        mean=mean,
        std=std,
    )


def _decode(path, image_size, target):
    """Decodes one file to uint8 `(*target, 3)`; `ok` is False on a size mismatch."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    if image_size is not None:
        image = augment.resize(image, image_size)
    shape = tf.shape(image)
    ok = tf.logical_and(tf.equal(shape[0], target[0]), tf.equal(shape[1], target[1]))
    image = tf.cond(
        ok,
        lambda: tf.reshape(image, (*target, 3)),
        lambda: tf.zeros((*target, 3), tf.uint8),
    )
    return image, ok, shape[:2]


def _decode_asserted(path, image_size, target):
    """`_decode` for streaming: a size mismatch stops the pipeline with a message."""
    image, ok, _ = _decode(path, image_size, target)
    check = tf.debugging.assert_equal(
        ok,
        True,
        message=(
            f"an image is not {target[0]}x{target[1]} like the first training image. "
            "Fix: pass image_size=(height, width) to resize them all"
        ),
    )
    with tf.control_dependencies([check]):
        return tf.identity(image)


def _first_size(path, root):
    """The `(height, width)` of one image file, or the unreadable-image error."""
    probe = tf.data.Dataset.from_tensors(path).map(
        lambda p: tf.shape(
            tf.io.decode_image(tf.io.read_file(p), channels=3, expand_animations=False)
        )
    )
    shapes = list(probe.ignore_errors().as_numpy_iterator())
    if not shapes:
        layout.raise_unreadable([path], root)
    return tuple(int(s) for s in shapes[0][:2])


def _decode_checked(paths, root, image_size, target):
    """Decodes `paths` in parallel into one uint8 array, or raises one clear error.

    Files that fail to decode are dropped by `ignore_errors` and found by their
    missing index; images of another size than `target` by their `ok` flag.
    """
    count = len(paths)
    dataset = (
        tf.data.Dataset.from_tensor_slices((paths, np.arange(count)))
        .map(
            lambda p, i: (*_decode(p, image_size, target), i),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .ignore_errors()
        .batch(1024)
    )
    images = np.zeros((count, *target, 3), np.uint8)
    decoded = np.zeros(count, bool)
    bad_size = []
    for batch, ok, shapes, index in dataset.as_numpy_iterator():
        images[index] = batch
        decoded[index] = True
        for i, shape in zip(index[~ok], shapes[~ok]):
            bad_size.append((paths[i], tuple(int(s) for s in shape)))
    if not decoded.all():
        layout.raise_unreadable([paths[i] for i in np.flatnonzero(~decoded)], root)
    if bad_size:
        raise layout.size_mismatch_error(root, target, bad_size)
    return images
