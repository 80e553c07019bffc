"""Image folders on disk: `train/<class>/*` + `test/<class>/*`, and TinyImageNet.

Images are decoded once with `tf.io` (JPEG, PNG, BMP, GIF; always 3 channels;
resized to `image_size` if given, else all must share one size) and kept in
memory as uint8, so each epoch costs only augmentation. Every file is checked
while decoding: unreadable images and images of another size are reported by
name in one line, before any training starts. With `cache=False` the images are
decoded again each epoch instead; then only a sample is checked up front.
"""

import os
import pathlib

import numpy as np
import tensorflow as tf

from keras_tna.data import augment
from keras_tna.data import source

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
# Without the in-memory cache, mean/std come from (and up-front checks cover)
# this many training images, drawn with a fixed seed.
STREAMING_SAMPLE = 10_000
_LAYOUT = "train/<class>/* and test/<class>/*"


def load_folder(argument, options):
    """`folder:<path>`: `<path>/train/<class>/*` and `<path>/test/<class>/*`.

    Class names are the sorted subfolder names of `train/` (the test folder may
    also be called `val/`). Files without an image extension are ignored.
    """
    root = _existing_root(argument, "folder", _LAYOUT)
    train_dir = _child(root, ("train",), f"put the training images in {root}/train/<class>/")
    test_dir = _child(
        root, ("test", "val"), f"put the test images in {root}/test/<class>/"
    )
    train = _scan_classes(train_dir)
    test = _scan_classes(test_dir)
    if set(train) != set(test):
        raise ValueError(
            f"train/ and test/ in {root} have different class folders (only in "
            f"train: {sorted(set(train) - set(test))}, only in test: "
            f"{sorted(set(test) - set(train))}). Fix: give both splits the same "
            "class folders."
        )
    class_names = tuple(sorted(train))
    files = {
        "train": _labelled(train, class_names),
        "test": _labelled(test, class_names),
    }
    return _image_source(files, class_names, options, root)


def load_tinyimagenet(argument, options):
    """`tinyimagenet:<path>`: the layout of the official tiny-imagenet-200.zip.

    `train/<wnid>/images/*.JPEG` (500 per class) and `val/images/*.JPEG` with
    labels in `val/val_annotations.txt` (10,000 images): the validation set is
    the test split (the official test set has no labels). Class names are the
    sorted wnids.
    """
    layout = "train/<wnid>/images/*, val/images/* and val/val_annotations.txt"
    root = _existing_root(argument, "tinyimagenet", layout)
    train_dir = _child(root, ("train",), f"expected {root}/{layout}")
    val_dir = _child(root, ("val",), f"expected {root}/{layout}")
    wnids = sorted(
        p.name for p in train_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    if not wnids:
        raise ValueError(
            f"{train_dir} has no class folders. Fix: expected {root}/{layout}."
        )
    train = {}
    for wnid in wnids:
        images_dir = train_dir / wnid / "images"
        train[wnid] = _image_files(images_dir if images_dir.is_dir() else train_dir / wnid)
        if not train[wnid]:
            raise ValueError(
                f"Class folder {images_dir} has no images ({', '.join(IMAGE_EXTENSIONS)})."
                " Fix: add its images or remove the class folder."
            )
    annotations = val_dir / "val_annotations.txt"
    if not annotations.is_file():
        raise FileNotFoundError(
            f"{annotations} is missing: it holds the validation labels. Fix: "
            "restore it from tiny-imagenet-200.zip."
        )
    test = {wnid: [] for wnid in wnids}
    for number, line in enumerate(annotations.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or fields[1] not in test:
            raise ValueError(
                f"{annotations} line {number}: expected '<file>\\t<wnid>\\t...' with a "
                f"wnid that has a train/ folder. Fix: restore the file from "
                f"tiny-imagenet-200.zip. Received: {line[:80]!r}"
            )
        path = val_dir / "images" / fields[0]
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is listed in {annotations} but missing. Fix: restore "
                "val/images/ from tiny-imagenet-200.zip."
            )
        test[fields[1]].append(str(path))
    class_names = tuple(wnids)
    files = {
        "train": _labelled(train, class_names),
        "test": _labelled(test, class_names),
    }
    return _image_source(files, class_names, options, root)


def _existing_root(argument, prefix, layout):
    root = pathlib.Path(os.path.expanduser(argument or ""))
    if not argument or not root.is_dir():
        raise FileNotFoundError(
            f"Image folder not found: {str(root)!r}. Fix: pass '{prefix}:<dir>' where "
            f"<dir> holds {layout}. Received: {prefix}:{argument}"
        )
    return root


def _child(root, names, fix):
    for name in names:
        if (root / name).is_dir():
            return root / name
    raise FileNotFoundError(
        f"{root} has no {names[0]}/ folder. Fix: {fix} (layout: {_LAYOUT})."
    )


def _image_files(directory):
    if not directory.is_dir():
        return []
    return sorted(
        str(p)
        for p in directory.iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS
        and not p.name.startswith(".")
        and p.is_file()
    )


def _scan_classes(split_dir):
    classes = {
        p.name: _image_files(p)
        for p in split_dir.iterdir()
        if p.is_dir() and not p.name.startswith(".")
    }
    if not classes:
        raise ValueError(
            f"{split_dir} has no class folders. Fix: put each class's images in "
            f"its own subfolder, {split_dir}/<class>/."
        )
    for name, files in sorted(classes.items()):
        if not files:
            raise ValueError(
                f"Class folder {split_dir / name} has no images "
                f"({', '.join(IMAGE_EXTENSIONS)}). Fix: add its images or remove "
                "the class folder from train/ and test/."
            )
    return classes


def _labelled(files_by_class, class_names):
    paths, labels = [], []
    for label, name in enumerate(class_names):
        paths += files_by_class[name]
        labels += [label] * len(files_by_class[name])
    return paths, np.asarray(labels, np.int32)


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
    if max(height, width) <= 64:
        pad = 4 if min(height, width) >= 32 else max(1, min(height, width) // 8)
        augmentation = source.Augmentation("pad_crop", pad=pad, flip=True)
    else:
        augmentation = source.Augmentation("resized_crop", flip=True)
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
        _raise_unreadable([path], root)
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
        _raise_unreadable([paths[i] for i in np.flatnonzero(~decoded)], root)
    if bad_size:
        path, (height, width) = bad_size[0]
        raise ValueError(
            f"Images under {root} differ in size: {len(bad_size)} are not "
            f"{target[0]}x{target[1]} like the first training image, e.g. {path} is "
            f"{height}x{width}. Fix: pass image_size=(height, width) to resize them all."
        )
    return images


def _raise_unreadable(bad, root):
    raise ValueError(
        f"{len(bad)} file(s) under {root} are not readable images, e.g. {bad[0]}. "
        "Fix: delete them or re-save them as JPEG or PNG."
    )
