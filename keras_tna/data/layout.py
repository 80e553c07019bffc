"""Image-folder layouts on disk, without TensorFlow: which files, which labels.

`folder_files` lists `folder:<path>` (`train/<class>/*` + `test/<class>/*`) and
`tinyimagenet_files` the official tiny-imagenet-200 layout, checking the layout
and reporting what is wrong in one line. Both decoders use them: the tf.data one
(`folders.py`) and the TensorFlow-free one (`array_sources.py`), as they do
`augmentation_for_size` (the paper's augmentation for a folder's image size)
and the two errors about unreadable and mis-sized images.
"""

import os
import pathlib

import numpy as np

from keras_tna.data import source

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
_LAYOUT = "train/<class>/* and test/<class>/*"


def folder_files(argument):
    """Lists `folder:<path>`'s images: `<path>/train/<class>/*`, `<path>/test/<class>/*`.

    Class names are the sorted subfolder names of `train/` (the test folder may
    also be called `val/`). Files without an image extension are ignored.

    Args:
        argument: str, the `<path>` part of the dataset name.

    Returns:
        `(files, class_names, root)`: `files` maps "train"/"test" to
        `(paths, int32 labels)`, `class_names` is a tuple of str, `root` the
        folder as a `pathlib.Path`.

    Raises:
        FileNotFoundError: the folder or its train/ or test/ is missing.
        ValueError: class folders missing, empty, or differing between splits.
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
    _check_two_classes(train_dir, class_names, f"folder:{argument}")
    files = {
        "train": _labelled(train, class_names),
        "test": _labelled(test, class_names),
    }
    return files, class_names, root


def _check_two_classes(train_dir, class_names, dataset):
    if len(class_names) < 2:
        raise ValueError(
            f"{train_dir} has {len(class_names)} class folder(s) "
            f"({', '.join(class_names)}); a classifier needs at least 2 classes. "
            "Fix: put each class's images in its own subfolder of train/ and "
            f"test/. Received: dataset={dataset}"
        )


def tinyimagenet_files(argument):
    """`tinyimagenet:<path>`: the layout of the official tiny-imagenet-200.zip.

    `train/<wnid>/images/*.JPEG` (500 per class) and `val/images/*.JPEG` with
    labels in `val/val_annotations.txt` (10,000 images): the validation set is
    the test split (the official test set has no labels). Class names are the
    sorted wnids. Returns `(files, class_names, root)` like `folder_files`.
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
    _check_two_classes(train_dir, class_names, f"tinyimagenet:{argument}")
    files = {
        "train": _labelled(train, class_names),
        "test": _labelled(test, class_names),
    }
    return files, class_names, root


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


def augmentation_for_size(height, width):
    """The paper's training augmentation for folder images of this size.

    Up to 64 pixels (CIFAR, TinyImageNet): random crop after zero-padding by 4
    pixels (by 1 per 8 pixels below 32) and a horizontal flip; larger images:
    random-resized crop and flip.

    Args:
        height: int, image height in pixels.
        width: int, image width in pixels.

    Returns:
        A `source.Augmentation`.
    """
    if max(height, width) <= 64:
        pad = 4 if min(height, width) >= 32 else max(1, min(height, width) // 8)
        return source.Augmentation("pad_crop", pad=pad, flip=True)
    return source.Augmentation("resized_crop", flip=True)


def size_mismatch_error(root, target, mismatched):
    """The error for images of another size than the first training image.

    Args:
        root: path of the folder, for the message.
        target: tuple `(height, width)` expected.
        mismatched: list of `(path, (height, width))`, the images that differ.

    Returns:
        A `ValueError` to raise.
    """
    path, (height, width) = mismatched[0]
    return ValueError(
        f"Images under {root} differ in size: {len(mismatched)} are not "
        f"{target[0]}x{target[1]} like the first training image, e.g. {path} is "
        f"{height}x{width}. Fix: pass image_size=(height, width) to resize them all."
    )


def raise_unreadable(bad, root):
    raise ValueError(
        f"{len(bad)} file(s) under {root} are not readable images, e.g. {bad[0]}. "
        "Fix: delete them or re-save them as JPEG or PNG."
    )
