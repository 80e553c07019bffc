"""Tests for keras_tna.analysis.probes on tiny inline networks."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.linear_model import LogisticRegression

from keras_tna.analysis import probes


def tiny_net(seed=0, classes=3):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block_1")(inputs)
    x = keras.layers.Conv2D(12, 3, strides=2, activation="relu", name="block_2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(classes, name="logits")(x))


def blobs(seed, n=600, d=6, classes=3, spread=1.3):
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(99).normal(size=(classes, d)) * 1.5
    y = rng.integers(0, classes, n)
    return (centers[y] + spread * rng.normal(size=(n, d))).astype(np.float32), y


def test_pooled_features_are_channel_means_of_block_outputs():
    model = tiny_net()
    images = np.random.default_rng(0).normal(size=(20, 8, 8, 1)).astype(np.float32)
    labels = np.arange(20) % 3
    names, feats, got_labels = probes.pooled_features(
        model, (images, labels), batch_size=7, include_logits=True
    )
    assert names == ["block_1", "block_2", "logits"]
    raw = keras.Model(model.inputs, model.get_layer("block_2").output).predict(images, verbose=0)
    np.testing.assert_allclose(feats["block_2"], raw.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(feats["logits"], model.predict(images, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got_labels, labels)
    # One layer alone (keras returns a bare tensor for a single output).
    _, one, _ = probes.pooled_features(model, (images, labels), ["block_2"], batch_size=7)
    np.testing.assert_allclose(one["block_2"], feats["block_2"], rtol=1e-6)
    _, few, few_labels = probes.pooled_features(model, (images, labels), batch_size=7, max_examples=9)
    assert few["block_1"].shape == (9, 8) and len(few_labels) == 9


def test_probe_accuracy_close_to_logistic_regression():
    x, y = blobs(0)
    xv, yv = blobs(1)
    noise = np.random.default_rng(2).normal(size=x.shape).astype(np.float32)
    noise_v = np.random.default_rng(3).normal(size=xv.shape).astype(np.float32)
    result = probes.train_probes(
        {"signal": x, "noise": noise}, y, {"signal": xv, "noise": noise_v}, yv,
        num_classes=3, epochs=10,
    )
    val, train = result.val_accuracy, result.train_accuracy
    assert result.diverged == []
    reference = LogisticRegression(max_iter=1000).fit(x, y).score(xv, yv)
    assert 0.6 < reference < 0.97  # a task where probes can differ
    assert val["signal"] == pytest.approx(reference, abs=0.04)
    assert val["noise"] < 0.45  # chance is 1/3
    assert train["signal"] > 0.6


def test_joint_training_equals_training_each_probe_alone():
    x, y = blobs(0, spread=2.0)
    xv, yv = blobs(1, spread=2.0)
    other = np.random.default_rng(5).normal(size=(len(y), 4)).astype(np.float32)
    joint = probes.train_probes(
        {"a": x, "b": other}, y, {"a": xv, "b": xv[:, :4]}, yv, num_classes=3, epochs=3, seed=4
    )
    alone = probes.train_probes({"a": x}, y, {"a": xv}, yv, num_classes=3, epochs=3, seed=4)
    assert joint.val_accuracy["a"] == alone.val_accuracy["a"]
    assert joint.train_accuracy["a"] == alone.train_accuracy["a"]


def test_features_are_computed_once_per_split():
    model = tiny_net()
    images = np.random.default_rng(0).normal(size=(40, 8, 8, 1)).astype(np.float32)
    labels = (np.arange(40) % 3).astype(np.int32)
    passes = {"train": 0}

    def generate():
        passes["train"] += 1
        for s in range(0, 40, 10):
            yield images[s : s + 10], labels[s : s + 10]

    spec = (tf.TensorSpec((None, 8, 8, 1), tf.float32), tf.TensorSpec((None,), tf.int32))
    train = tf.data.Dataset.from_generator(generate, output_signature=spec)
    result = probes.linear_probes(model, train, (images, labels), epochs=4)
    assert passes["train"] == 1
    assert result.names == ["block_1", "block_2"]
    assert result.num_train == 40 and result.num_val == 40


def test_linear_probes_is_pooled_features_then_train_probes():
    model = tiny_net(1)
    rng = np.random.default_rng(0)
    images = rng.normal(size=(60, 8, 8, 1)).astype(np.float32)
    labels = rng.integers(0, 3, 60)
    result = probes.linear_probes(
        model, (images[:40], labels[:40]), (images[40:], labels[40:]), epochs=2, seed=3
    )
    _, tx, ty = probes.pooled_features(model, (images[:40], labels[:40]))
    _, vx, vy = probes.pooled_features(model, (images[40:], labels[40:]))
    direct = probes.train_probes(tx, ty, vx, vy, num_classes=3, epochs=2, seed=3)
    assert result.val_accuracy == direct.val_accuracy


def test_diverging_probe_is_reported():
    x, y = blobs(0)
    huge = {"huge": x * 1e20, "fine": x}
    result = probes.train_probes(huge, y, huge, y, num_classes=3, epochs=1, learning_rate=0.5)
    assert result.diverged == ["huge"]
    assert probes.train_probes(huge, y, huge, y, num_classes=3, epochs=1, standardize=True).diverged == []


def test_bad_input():
    model = tiny_net(classes=3)
    images = np.zeros((10, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match="mismatched class counts"):
        probes.linear_probes(model, (images, np.full(10, 5)), (images, np.zeros(10, int)), epochs=1)
    with pytest.raises(ValueError, match=r"\['block_9'\] are not in model"):
        probes.linear_probes(model, (images, np.zeros(10, int)), (images, np.zeros(10, int)), ["block_9"])
    with pytest.raises(ValueError, match="expects"):
        probes.pooled_features(model, (np.zeros((10, 8, 8, 3)), np.zeros(10, int)))
    with pytest.raises(ValueError, match="`epochs` must be"):
        probes.train_probes({"a": np.zeros((4, 2))}, np.zeros(4, int), {"a": np.zeros((4, 2))},
                            np.zeros(4, int), num_classes=2, epochs=0)
