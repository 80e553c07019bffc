"""Tests for keras_tna.data.arrays: the TensorFlow-free data path (load_arrays).

The TensorFlow-free run itself happens in a subprocess (`_arrays_worker.py`,
KERAS_BACKEND=jax, `import tensorflow` blocked); this process (TensorFlow
backend) checks its batches against its own and the tf.data pipeline's.
"""

import importlib.util
import itertools
import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_tna
from keras_tna.data import array_ops
from keras_tna.data import arrays
from keras_tna.data import augment
from keras_tna.data import images as image_files
from keras_tna.data import source
from keras_tna.data.arrays import load_arrays

pytestmark = pytest.mark.every_backend  # also in the JAX and PyTorch passes

WORKER = pathlib.Path(__file__).parents[1] / "_arrays_worker.py"
REPO = pathlib.Path(__file__).resolve().parents[2]


def write_png(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(image).numpy())


def make_folder(root, counts=(("train", 3), ("test", 2)), size=(12, 12), seed=0):
    rng = np.random.default_rng(seed)
    for split, count in counts:
        for name in ("cat", "dog"):
            for i in range(count):
                image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
                write_png(root / split / name / f"{i:03d}.png", image)
    return root


def stack(dataset):
    """All batches of a PyDataset or tf.data.Dataset as numpy arrays."""
    xs, ys = zip(*(
        (np.asarray(x), np.asarray(y))
        for x, y in (dataset if not hasattr(dataset, "__getitem__") else
                     (dataset[i] for i in range(len(dataset))))
    ))
    return np.concatenate(xs), np.concatenate(ys)


def candidates(image, pad, flip):
    """Every pad-`pad` crop (and its mirror) of one image, by numpy slicing."""
    height, width = image.shape[:2]
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
    for dy, dx in itertools.product(range(2 * pad + 1), repeat=2):
        crop = padded[dy : dy + height, dx : dx + width]
        yield (dy, dx, False), crop
        if flip:
            yield (dy, dx, True), crop[:, ::-1]


# ------------------------------------------------------ TensorFlow-free run


# The TensorFlow pass (and the JAX one) run it on JAX, the PyTorch pass on PyTorch.
FREE_BACKEND = "torch" if keras.backend.backend() == "torch" else "jax"


@pytest.mark.large
@pytest.mark.skipif(
    importlib.util.find_spec(FREE_BACKEND) is None, reason=f"{FREE_BACKEND} not installed"
)
def test_tensorflow_free_run(tmp_path):
    """digits + a folder load and a TwinModel trains with TensorFlow blocked, on
    JAX (or PyTorch in the PyTorch pass); its batches equal this process's for
    the same seed."""
    folder = make_folder(tmp_path / "pets")
    env = {**os.environ, "KERAS_BACKEND": FREE_BACKEND, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, str(WORKER), str(folder), str(tmp_path / "cache"),
         str(tmp_path / "free.npz")],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == FREE_BACKEND
    assert report["tensorflow_modules"] == []
    tensor_module = {"jax": "jaxlib", "torch": "torch"}[FREE_BACKEND]
    assert report["batch_types"] == {"digits": tensor_module, "folder": tensor_module}
    # One epoch of a small network: far above chance (0.1), loss down.
    assert report["history"]["val_base_accuracy"] > 0.5, report
    assert report["history"]["val_base_loss"] < report["before"]["base_loss"], report
    assert report["epochs_served"] >= 1

    # The folder was cached by the worker: its .npy files hold the decoded images.
    (entry,) = (tmp_path / "cache").iterdir()
    assert sorted(p.name for p in entry.iterdir()) == ["meta.json", "test.npy", "train.npy"]

    got = np.load(tmp_path / "free.npz")
    for tag, name, batch_size in (("digits", "digits", 128), ("folder", f"folder:{folder}", 4)):
        bundle = load_arrays(name, batch_size=batch_size, seed=3, cache_dir=False)
        x, y = bundle.train[0]
        np.testing.assert_allclose(got[f"{tag}_e0"], np.asarray(x), atol=1e-5)
        np.testing.assert_array_equal(got[f"{tag}_e0_labels"], np.asarray(y))
        bundle.train.on_epoch_end()
        np.testing.assert_allclose(got[f"{tag}_e1"], np.asarray(bundle.train[0][0]), atol=1e-5)
        np.testing.assert_allclose(got[f"{tag}_test"], stack(bundle.test)[0], atol=1e-5)
    sys.path.insert(0, str(WORKER.parent))
    try:
        import _arrays_worker
    finally:
        sys.path.pop(0)
    np.testing.assert_allclose(
        got["resized_crop"], np.asarray(_arrays_worker.large_images_batch()[0]), atol=1e-4
    )


@pytest.mark.large
def test_module_imports_without_tensorflow(run_python):
    """TensorFlow is installed here, yet not imported by the TF-free path."""
    code = (
        "import sys\n"
        "import keras_tna, keras_tna.data.arrays\n"
        "from keras_tna import TwinModel, make_twin, models\n"
        "from keras_tna.data import load_arrays, available\n"
        "print(sorted(k for k, v in sys.modules.items() "
        "if v is not None and k.split('.')[0] == 'tensorflow'))\n"
    )
    backend = "jax" if importlib.util.find_spec("jax") else "tensorflow"
    result = run_python(code, backend=backend)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


# ------------------------------------------------------ augmentation


@pytest.mark.parametrize(
    "offset,flip,expected",
    [
        ((0, 0), False, [[0, 0, 0], [0, 0, 1], [0, 3, 4]]),
        ((1, 1), False, [[0, 1, 2], [3, 4, 5], [6, 7, 8]]),
        ((2, 1), True, [[5, 4, 3], [8, 7, 6], [0, 0, 0]]),
        ((0, 2), True, [[0, 0, 0], [0, 2, 1], [0, 5, 4]]),
    ],
)
def test_pad_crop_flip_hand_computed(offset, flip, expected):
    image = np.arange(9, dtype=np.uint8).reshape(1, 3, 3, 1)
    out = array_ops.pad_crop_flip(image, [offset], [flip], pad=1)
    np.testing.assert_array_equal(np.asarray(out)[0, ..., 0], expected)


@pytest.mark.parametrize("pad", [1, 4])
def test_pad_crop_flip_matches_tf_augment(pad):
    rng = np.random.default_rng(pad)
    images = rng.integers(0, 256, (16, 10, 12, 3), dtype=np.uint8)
    offsets = rng.integers(0, 2 * pad + 1, (16, 2)).astype(np.int32)
    flips = rng.random(16) < 0.5
    ours = np.asarray(array_ops.pad_crop_flip(images, offsets, flips, pad))
    theirs = augment.pad_crop_flip(images, offsets, flips, pad).numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_augmented_batch_is_a_crop_flip_of_its_images():
    """Each augmented image is one of its own image's 2 * 9 * 9 pad-4 crops and
    flips (found by numpy slicing); the draws vary across the batch."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 8, 8, 3), dtype=np.uint8)
    labels = np.arange(64, dtype=np.int32)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    data = arrays.ArrayDataset(
        images, labels, 32, mean=mean, std=std, shuffle=True, seed=5,
        augmentation=source.Augmentation("pad_crop", pad=4, flip=True),
    )
    x, y = (np.asarray(t) for t in data[1])
    assert x.dtype == np.float32 and x.shape == (32, 8, 8, 3)
    pixels = np.round((x * np.float32(std) + np.float32(mean)) * 255.0)
    draws = []
    for out, label in zip(pixels, y):
        found = [key for key, crop in candidates(images[label], 4, True)
                 if np.array_equal(crop, out)]
        assert found, f"image {label} is no pad-4 crop/flip of its original"
        draws.append(found[0])
    assert len({d[:2] for d in draws}) > 10
    assert 0 < sum(d[2] for d in draws) < 32


def test_digits_augmentation_never_flips():
    bundle = load_arrays("digits", batch_size=256, seed=0)
    x, y = bundle.train[0]
    pixels = np.round((np.asarray(x) * bundle.std[0] + bundle.mean[0]) * 255.0)
    originals = bundle.train.images[bundle.train.order()[:256]]
    for out, image in zip(pixels, originals):
        assert any(np.array_equal(c, out) for _, c in candidates(image, 1, False))


@pytest.mark.parametrize(
    "box,flip",
    [((0, 0, 16, 16), False), ((4, 2, 8, 6), False), ((3, 5, 9, 11), True)],
)
def test_resized_crop_matches_tf_resize(box, flip):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (16, 16, 3)).astype(np.float32)
    top, left, height, width = box
    expected = tf.image.resize(
        image[top : top + height, left : left + width], (16, 16), antialias=True
    ).numpy()
    if flip:
        expected = expected[:, ::-1]
    out = array_ops.resized_crop_flip(image[None], [box], [flip])
    np.testing.assert_allclose(np.asarray(out)[0], expected, atol=1e-3)


def test_crop_boxes_fit_and_cover_the_range():
    boxes = array_ops.sample_crop_boxes(np.random.default_rng(0), 2000, 40, 50)
    top, left, height, width = boxes.T
    assert (top >= 0).all() and (left >= 0).all()
    assert (top + height <= 40).all() and (left + width <= 50).all()
    area = height * width / 2000.0
    assert area.min() < 0.12 and area.max() > 0.9


# ------------------------------------------------------ same data as load()


@pytest.mark.parametrize(
    "sizes", [((8, 8), (32, 32)), ((32, 32), (16, 16)), ((37, 50), (32, 32)),
              ((64, 64), (24, 40)), ((100, 80), (64, 64)), ((12, 12), (12, 12))],
)
@pytest.mark.parametrize("channels", [1, 3])
def test_resize_matches_tf(sizes, channels):
    """Same filter as tf.image.resize(antialias=True): enlarging (8 -> 32) and
    same-size are exact; otherwise float summation order can move a value
    across a rounding boundary, one level on a handful of pixels."""
    (height, width), size = sizes
    image = np.random.default_rng(2).integers(0, 256, (height, width, channels), np.uint8)
    ours = image_files.resize(image, size).astype(int)
    theirs = augment.resize(image, size).numpy().astype(int)
    assert ours.shape == theirs.shape == (*size, channels)
    difference = np.abs(ours - theirs)
    assert difference.max() <= 1
    assert difference.mean() < 0.01  # another filter (PIL bilinear) differs on ~18%
    if height <= size[0]:
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("image_size", [None, (8, 10)])
def test_folder_equals_tf_pipeline(tmp_path, image_size):
    root = make_folder(tmp_path / "pets")
    name = f"folder:{root}"
    ours = load_arrays(name, batch_size=3, image_size=image_size, cache_dir=tmp_path / "c")
    theirs = keras_tna.data.load(name, batch_size=3, image_size=image_size)
    for field in ("num_classes", "input_shape", "num_train", "num_test", "class_names"):
        assert getattr(ours, field) == getattr(theirs, field), field
    x, y = stack(ours.test)
    x_tf, y_tf = stack(theirs.test)
    np.testing.assert_array_equal(y, y_tf)
    if image_size is None:  # the same PNG pixels: identical
        np.testing.assert_allclose(ours.mean, theirs.mean, rtol=1e-12)
        np.testing.assert_allclose(ours.std, theirs.std, rtol=1e-12)
        np.testing.assert_allclose(x, x_tf, atol=1e-6)
    else:  # shrunk: a pixel level apart at most (see test_resize_matches_tf)
        np.testing.assert_allclose(ours.mean, theirs.mean, atol=1e-4)
        np.testing.assert_allclose(ours.std, theirs.std, atol=1e-4)
        levels = np.abs(x * np.float32(ours.std) - x_tf * np.float32(theirs.std)) * 255
        assert levels.max() < 1.01 and levels.mean() < 0.02
    assert ours.train.augmentation == source.Augmentation("pad_crop", pad=1, flip=True)


@pytest.mark.parametrize("image_size", [None, 16])
def test_digits_equal_tf_pipeline(image_size):
    ours = load_arrays("digits", batch_size=500, image_size=image_size)
    theirs = keras_tna.data.load("digits", batch_size=500, image_size=image_size)
    assert (ours.input_shape, ours.num_train, ours.num_test) == (
        theirs.input_shape, theirs.num_train, theirs.num_test)
    x, y = stack(ours.test)
    x_tf, y_tf = stack(theirs.test)
    np.testing.assert_array_equal(y, y_tf)
    np.testing.assert_allclose(x, x_tf, atol=1e-6)
    np.testing.assert_allclose(ours.normalize(ours.test.images), x_tf, atol=1e-6)


# ------------------------------------------------------ order and seeds


def test_same_seed_same_batches_new_order_each_epoch():
    first, second, other = (load_arrays("digits", batch_size=100, seed=s) for s in (7, 7, 8))
    for index in (0, 5):
        np.testing.assert_array_equal(np.asarray(first.train[index][0]),
                                      np.asarray(second.train[index][0]))
    assert not np.array_equal(first.train.order(), other.train.order())
    order0 = first.train.order()
    assert sorted(order0) == list(range(first.num_train))
    first.train.on_epoch_end()
    assert not np.array_equal(first.train.order(), order0)
    first.train.on_epoch_end()  # nothing served in this epoch: no new order
    assert first.train.epoch == 1
    np.testing.assert_array_equal(first.test.order(), np.arange(first.num_test))
    x, y = stack(first.test)
    np.testing.assert_array_equal(y, first.test.labels)
    assert len(first.train) == 15 and len(first.test) == 4


def test_drop_remainder_and_index_errors():
    bundle = load_arrays("digits", batch_size=100, drop_remainder=True)
    assert len(bundle.train) == bundle.num_train // 100
    with pytest.raises(IndexError, match="out of range"):
        bundle.train[len(bundle.train)]


# ------------------------------------------------------ cache


def test_cache_is_read_back_and_invalidated_by_a_changed_file(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "pets")
    cache = tmp_path / "cache"
    first = load_arrays(f"folder:{root}", batch_size=2, cache_dir=cache)
    decoded = []
    real = image_files.read_image
    monkeypatch.setattr(image_files, "read_image", lambda *a, **k: decoded.append(a) or real(*a, **k))
    again = load_arrays(f"folder:{root}", batch_size=2, cache_dir=cache)
    assert decoded == []
    np.testing.assert_array_equal(again.train.images, first.train.images)
    assert again.mean == first.mean and again.std == first.std
    changed = root / "train" / "cat" / "000.png"
    write_png(changed, np.full((12, 12, 3), 7, np.uint8))
    os.utime(changed, ns=(1, 1))
    fresh = load_arrays(f"folder:{root}", batch_size=2, cache_dir=cache)
    assert len(decoded) == 10
    assert (fresh.train.images[0] == 7).all()
    assert len(list(cache.iterdir())) == 2


# ------------------------------------------------------ errors


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="'cifar10' needs TensorFlow: load_arrays reads digits"):
        load_arrays("cifar10", batch_size=8)
    with pytest.raises(ValueError, match="Unknown dataset 'mnist'"):
        load_arrays("mnist", batch_size=8)
    with pytest.raises(ValueError, match="batch_size must be a positive int. Received: batch_size=0"):
        load_arrays("digits", batch_size=0)
    with pytest.raises(TypeError, match="seed must be an int"):
        load_arrays("digits", batch_size=8, seed=1.5)
    with pytest.raises(TypeError, match="cache_dir must be None"):
        load_arrays("digits", batch_size=8, cache_dir=3)
    with pytest.raises(ValueError, match="image_size must be None"):
        load_arrays("digits", batch_size=8, image_size=(0, 4))
    with pytest.raises(FileNotFoundError, match="Image folder not found"):
        load_arrays(f"folder:{tmp_path / 'nowhere'}", batch_size=8)
    with pytest.raises(ValueError, match="make no full batch of 5000"):
        load_arrays("digits", batch_size=5000, drop_remainder=True)


def test_bad_images_are_named(tmp_path):
    root = make_folder(tmp_path / "pets")
    (root / "train" / "dog" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"1 file\(s\) under .* not readable images, e.g. .*broken.png"):
        load_arrays(f"folder:{root}", batch_size=2, cache_dir=False)
    (root / "train" / "dog" / "broken.png").unlink()
    write_png(root / "test" / "cat" / "big.png", np.zeros((20, 16, 3), np.uint8))
    with pytest.raises(ValueError, match=r"differ in size: 1 are not 12x12 .*big.png is 20x16"):
        load_arrays(f"folder:{root}", batch_size=2, cache_dir=False)
    bundle = load_arrays(f"folder:{root}", batch_size=2, cache_dir=False, image_size=12)
    assert bundle.num_test == 5
