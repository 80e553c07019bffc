"""Tests for keras_tna.analysis.corruptions: registry, generation, sources, evaluation."""

import keras
import numpy as np
import pytest
from PIL import Image

from keras_tna.analysis import _corrupt_worker
from keras_tna.analysis import common
from keras_tna.analysis import corruptions as corr
from keras_tna.analysis import corruption_catalog as catalog
from keras_tna.analysis import corruption_sources as sources


def textured(n, size, seed=0):
    """Smooth random colour images (a blur or noise visibly changes them)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 8, 8, 3)).astype(np.uint8)
    return np.stack([np.asarray(Image.fromarray(s).resize((size, size), Image.BILINEAR)) for s in small])


# ---- registry ---------------------------------------------------------------
def test_registry_covers_tfds_names_and_the_15_common():
    from keras_tna import data

    assert len(catalog.COMMON_CORRUPTIONS) == 15
    assert {c.tfds_name for c in catalog.CORRUPTIONS.values()} == set(data.CIFAR10_CORRUPTIONS)
    assert catalog.get_corruption("frosted_glass_blur").name == "glass_blur"
    assert catalog.get_corruption("elastic").name == "elastic_transform"
    assert set(catalog.EXTRA_CORRUPTIONS) == {"speckle_noise", "gaussian_blur", "spatter", "saturate"}
    with pytest.raises(ValueError, match="Unknown corruption 'rain'"):
        catalog.get_corruption("rain")


# ---- generation -------------------------------------------------------------
@pytest.mark.parametrize("name", catalog.COMMON_CORRUPTIONS)
def test_each_common_corruption_runs_on_32_and_64_pixels(name):
    for size in (32, 64):
        images = textured(1, size, seed=size)
        outs = [catalog.corrupt_images(images, name, s, seed=1) for s in catalog.SEVERITIES]
        for out in outs:
            assert out.shape == images.shape and out.dtype == np.uint8
        # Severity 5 changes the image (brightness/contrast/... included).
        assert np.abs(outs[-1].astype(int) - images).mean() > 1.0


@pytest.mark.parametrize("size", [32, 64])
def test_cached_frost_equals_imagecorruptions_frost(size):
    from imagecorruptions import corrupt

    for i, image in enumerate(textured(6, size, seed=3)):
        severity = i % 5 + 1
        np.random.seed(100 + i)
        expected = corrupt(image, severity=severity, corruption_name="frost")
        np.random.seed(100 + i)
        np.testing.assert_array_equal(_corrupt_worker.frost(image, severity), expected)


def test_generation_is_seeded():
    images = textured(4, 32)
    for name in ("gaussian_noise", "glass_blur", "impulse_noise"):
        a = catalog.corrupt_images(images, name, 3, seed=7)
        b = catalog.corrupt_images(images, name, 3, seed=7)
        c = catalog.corrupt_images(images, name, 3, seed=8)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    # Per-image seeds: an image's corruption does not depend on its batch.
    np.testing.assert_array_equal(
        catalog.corrupt_images(images, "shot_noise", 2, seed=7)[:2],
        catalog.corrupt_images(images[:2], "shot_noise", 2, seed=7),
    )


def test_grey_images_and_bad_images():
    grey = textured(2, 32)[..., :1]
    out = catalog.corrupt_images(grey, "contrast", 5, seed=0)
    assert out.shape == grey.shape
    with pytest.raises(ValueError, match="at least 32x32"):
        catalog.corrupt_images(np.zeros((2, 8, 8, 1), np.uint8), "fog", 1)
    with pytest.raises(ValueError, match="uint8 images"):
        catalog.corrupt_images(np.zeros((2, 32, 32, 3), np.float32), "fog", 1)
    with pytest.raises(ValueError, match="`severity` must be one of"):
        catalog.corrupt_images(textured(1, 32), "fog", 6)


@pytest.mark.large
def test_worker_processes_give_the_same_images(tmp_path):
    images, labels = textured(6, 32), np.arange(6)
    variants = [("impulse_noise", 2), ("frost", 4)]
    with sources.GeneratedCorruptions(images, labels, "toy", seed=3, cache_dir=tmp_path, num_workers=2) as pooled:
        pooled.prepare(variants)  # one pool of 2 worker processes for both
        assert pooled.generated_count == 2 and pooled._executor is not None
        for c, s in variants:
            np.testing.assert_array_equal(
                pooled.load(c, s)[0], catalog.corrupt_images(images, c, s, seed=3, num_workers=1)
            )
    assert pooled._executor is None  # the pool is shut down on exit


def test_generated_source_caches_and_reuses(tmp_path):
    images, labels = textured(5, 32), np.arange(5)
    source = sources.GeneratedCorruptions(images, labels, "toy", seed=2, cache_dir=tmp_path, num_workers=1)
    assert source.kind == "generated"
    first, got_labels = source.load("motion_blur", 2)
    assert source.generated_count == 1
    assert source.cache_path("motion_blur", 2).is_file()
    assert source.cache_path("motion_blur", 2).name == "motion_blur_2_seed2_n5.npy"
    np.testing.assert_array_equal(got_labels, labels)
    again = sources.GeneratedCorruptions(images, labels, "toy", seed=2, cache_dir=tmp_path, num_workers=1)
    second, _ = again.load("motion_blur", 2)
    assert again.generated_count == 0  # read from the cache
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, catalog.corrupt_images(images, "motion_blur", 2, seed=2))
    # Other images (same name and size) never hit the stale cache.
    other = sources.GeneratedCorruptions(images[::-1].copy(), labels, "toy", seed=2, cache_dir=tmp_path, num_workers=1)
    other.load("motion_blur", 2)
    assert other.generated_count == 1
    # prepare() generates only what is missing.
    again.prepare([("motion_blur", 2), ("fog", 1)])
    assert again.generated_count == 1 and again.cache_path("fog", 1).is_file()


# ---- released sources ---------------------------------------------------------
def test_tfds_source_maps_names(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    import tensorflow as tf

    configs = []

    def as_dataset_fn(builder, *args, **kwargs):
        configs.append(builder.builder_config.name)
        return tf.data.Dataset.from_tensor_slices(
            {"image": np.full((6, 32, 32, 3), 9, np.uint8), "label": np.arange(6) % 10}
        )

    with tfds.testing.mock_data(as_dataset_fn=as_dataset_fn):
        source = sources.TFDSCorruptions(data_dir=str(tmp_path), max_examples=4)
        images, labels = source.load("glass_blur", 3)
        source.load("elastic_transform", 5)
    assert configs == ["frosted_glass_blur_3", "elastic_5"]
    assert images.shape == (4, 32, 32, 3) and list(labels) == [0, 1, 2, 3]


def test_array_folder_source_slices_severities(tmp_path):
    n = 3
    images = np.stack([np.full((32, 32, 3), s * 10 + i, np.uint8) for s in range(5) for i in range(n)])
    np.save(tmp_path / "fog.npy", images)
    np.save(tmp_path / "labels.npy", np.tile(np.arange(n), 5))
    source = sources.ArrayFolderCorruptions(tmp_path, max_examples=2)
    assert source.available() == ["fog"]
    got, labels = source.load("fog", 4)
    assert list(got[:, 0, 0, 0]) == [30, 31] and list(labels) == [0, 1]
    with pytest.raises(FileNotFoundError, match="no frost.npy"):
        source.load("frost", 1)
    with pytest.raises(FileNotFoundError, match="no labels.npy"):
        sources.ArrayFolderCorruptions(tmp_path / "missing")


def test_image_folder_source_labels_by_class_names(tmp_path):
    for wnid, value in (("n02", 50), ("n01", 200)):
        folder = tmp_path / "zoom_blur" / "2" / wnid
        folder.mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((32, 32, 3), value + i, np.uint8)).save(folder / f"{i}.png")
    source = sources.ImageFolderCorruptions(tmp_path, class_names=["n02", "n01", "n03"])
    images, labels = source.load("zoom_blur", 2)
    # Files are read class by class (sorted folders): n01 then n02.
    assert list(images[:, 0, 0, 0]) == [200, 201, 50, 51] and list(labels) == [1, 1, 0, 0]
    with pytest.raises(ValueError, match="does not match the network's dataset"):
        sources.ImageFolderCorruptions(tmp_path, class_names=["n02"]).load("zoom_blur", 2)


# ---- evaluation ----------------------------------------------------------------
def brightness_classifier():
    """Two classes by mean pixel value: logits (0.5 - m, m - 0.5) on [0, 1] input."""
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    dense = keras.layers.Dense(2, name="logits")
    outputs = dense(x)
    dense.set_weights([np.array([[-1, 1]] * 3, np.float32) / 3, np.array([0.5, -0.5], np.float32)])
    return keras.Model(inputs, outputs)


def test_evaluate_corruptions_matches_direct_computation(tmp_path):
    model = brightness_classifier()
    images = textured(40, 32, seed=5)
    labels = (images.mean(axis=(1, 2, 3)) > 127.5).astype(np.int64)

    def normalize(x):
        return np.asarray(x, np.float32) / 255.0

    source = sources.GeneratedCorruptions(images, labels, "toy", cache_dir=tmp_path, num_workers=1)
    result = corr.evaluate_corruptions(
        model, source, normalize, ["brightness", "contrast"], (1, 5), clean=(images, labels), batch_size=16
    )
    assert result.kind == "generated"
    assert result.clean["accuracy"] == 1.0  # the labels are the classifier's rule
    for c in ("brightness", "contrast"):
        for s in (1, 5):
            x, y = source.load(c, s)
            expected = np.mean(np.argmax(model.predict(normalize(x), verbose=0), -1) == y)
            assert result.value(c, s) == pytest.approx(expected)
    per = result.per_corruption()
    assert per["contrast"] == pytest.approx((result.value("contrast", 1) + result.value("contrast", 5)) / 2)
    assert result.mean() == pytest.approx((per["brightness"] + per["contrast"]) / 2)
    # Brightening pushes dark images over the threshold: accuracy drops.
    assert result.value("brightness", 5) < 0.9


def test_corruption_errors_by_hand():
    errors = {("fog", 1): 0.2, ("fog", 2): 0.6, ("snow", 1): 0.5, ("snow", 2): 0.5}
    reference = {("fog", 1): 0.4, ("fog", 2): 0.4, ("snow", 1): 0.25, ("snow", 2): 0.25}
    assert corr.corruption_errors(errors) == pytest.approx({"fog": 0.4, "snow": 0.5})
    assert corr.corruption_errors(errors, reference) == pytest.approx({"fog": 1.0, "snow": 2.0})
    relative = corr.corruption_errors(errors, reference, clean_error=0.1, reference_clean_error=0.2)
    # fog: (0.1 + 0.5) / (0.2 + 0.2); snow: (0.4 + 0.4) / (0.05 + 0.05)
    assert relative == pytest.approx({"fog": 1.5, "snow": 8.0})


def test_evaluate_corruptions_bad_input(tmp_path):
    model = brightness_classifier()
    images, labels = textured(4, 32), np.zeros(4, np.int64)
    source = sources.GeneratedCorruptions(images, labels, "toy", num_workers=1)
    with pytest.raises(ValueError, match="mismatched datasets"):
        corr.evaluate_corruptions(model, sources.TFDSCorruptions(), lambda x: x, ["fog"], class_names=["a", "b"])
    with pytest.raises(ValueError, match="mismatched class counts"):
        bad = sources.GeneratedCorruptions(images, np.full(4, 7), "toy", num_workers=1)
        corr.evaluate_corruptions(model, bad, lambda x: x / 255.0, ["contrast"], (1,))
    with pytest.raises(ValueError, match="expects"):
        big = sources.GeneratedCorruptions(textured(2, 40), np.zeros(2, int), "toy", num_workers=1)
        corr.evaluate_corruptions(model, big, lambda x: x / 255.0, ["contrast"], (1,))
    with pytest.raises(TypeError, match="must be a CorruptionSource"):
        corr.evaluate_corruptions(model, "CIFAR-10-C", lambda x: x, ["fog"])
    with pytest.raises(ValueError, match="Unknown corruption"):
        corr.evaluate_corruptions(model, source, lambda x: x, ["rain"])
    with pytest.raises(ValueError, match="without 'top5'"):
        corr.evaluate_corruptions(model, source, lambda x: x / 255.0, ["contrast"], (1,), metric="top5")
    assert isinstance(common.Accuracy(), common.Evaluator)
