"""Tests for keras_tna.analysis.cka against a small numpy reference."""

import keras
import numpy as np
import pytest

from keras_tna.analysis import cka as cka_lib
from keras_tna.analysis import common


# ---- numpy reference, written from the papers' formulas -------------------
def ref_hsic1(k, l):
    """Song et al. (2012) unbiased HSIC, with explicit tilde matrices."""
    n = k.shape[0]
    kt = k - np.diag(np.diag(k))
    lt = l - np.diag(np.diag(l))
    one = np.ones(n)
    return (
        np.trace(kt @ lt)
        + (one @ kt @ one) * (one @ lt @ one) / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * (one @ kt @ lt @ one)
    ) / (n * (n - 3))


def ref_minibatch_cka(x, y, batch):
    """Nguyen et al. (2021): sum of HSIC_1 over minibatches, then normalise."""
    xy = xx = yy = 0.0
    for s in range(0, len(x), batch):
        xb = x[s : s + batch].reshape(len(x[s : s + batch]), -1).astype(np.float64)
        yb = y[s : s + batch].reshape(len(y[s : s + batch]), -1).astype(np.float64)
        k, l = xb @ xb.T, yb @ yb.T
        xy += ref_hsic1(k, l)
        xx += ref_hsic1(k, k)
        yy += ref_hsic1(l, l)
    return xy / np.sqrt(xx * yy)


def ref_biased_cka(x, y):
    """Kornblith et al. (2019) linear CKA via HSIC_0 = tr(KHLH)."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    x = x.reshape(n, -1).astype(np.float64)
    y = y.reshape(n, -1).astype(np.float64)
    k, l = x @ x.T, y @ y.T

    def hsic0(a, b):
        return np.trace(a @ h @ b @ h)

    return hsic0(k, l) / np.sqrt(hsic0(k, k) * hsic0(l, l))


def random_features(seed, n=96, p=12, q=7):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    # y depends on x (nonlinearly) plus noise, with a nonzero mean.
    y = np.tanh(x[:, :q] @ rng.normal(size=(q, q))) + 0.5 * rng.normal(size=(n, q)) + 3.0
    return x.astype(np.float32), y.astype(np.float32)


def stream(x, y, batch):
    cka = cka_lib.MinibatchCKA()
    for s in range(0, len(x), batch):
        cka.update([x[s : s + batch]], [y[s : s + batch]])
    return float(cka.result()[0, 0])


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("batch", [16, 32, 96])
def test_minibatch_matches_numpy_reference(seed, batch):
    x, y = random_features(seed)
    assert stream(x, y, batch) == pytest.approx(ref_minibatch_cka(x, y, batch), abs=2e-5)


def test_relu_like_features_keep_float32_accuracy():
    # Large positive means make raw float32 Gram matrices cancel badly; the
    # implementation centers per batch (HSIC_1 is translation invariant).
    rng = np.random.default_rng(3)
    x = np.maximum(rng.normal(size=(64, 4, 4, 8)), 0) * 50 + 100
    y = x[..., :4] ** 1.5 + rng.normal(size=(64, 4, 4, 4)) * 200
    ref = ref_minibatch_cka(x, y, 32)
    got = stream(x.astype(np.float32), y.astype(np.float32), 32)
    assert got == pytest.approx(ref, abs=1e-4)


def test_self_similarity_is_one():
    x, _ = random_features(0)
    assert stream(x, x, 32) == pytest.approx(1.0, abs=1e-6)
    assert cka_lib.linear_cka(x, x) == pytest.approx(1.0, abs=1e-6)


def test_invariance_to_orthogonal_transform_and_isotropic_scaling():
    x, y = random_features(1)
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.normal(size=(x.shape[1], x.shape[1])))
    x2 = (3.7 * x @ q).astype(np.float32)
    assert stream(x2, y, 32) == pytest.approx(stream(x, y, 32), abs=1e-5)
    assert cka_lib.linear_cka(x2, y) == pytest.approx(cka_lib.linear_cka(x, y), abs=1e-5)


def test_not_invariant_to_anisotropic_scaling():
    # Guards the invariance test above against a CKA that ignores its inputs.
    x, y = random_features(1)
    scale = np.ones(x.shape[1], np.float32)
    scale[:3] = 20.0
    assert abs(stream(x * scale, y, 32) - stream(x, y, 32)) > 1e-2


def test_symmetry():
    x, y = random_features(2)
    assert stream(x, y, 32) == pytest.approx(stream(y, x, 32), abs=1e-6)
    cka = cka_lib.MinibatchCKA()
    cka.update([x, y], [y, x])
    m = cka.result()
    np.testing.assert_allclose(m, m.T, atol=1e-6)
    np.testing.assert_allclose(np.diag(m[::-1]), 1.0, atol=1e-6)


def test_biased_full_batch_matches_kornblith_reference():
    x, y = random_features(4)
    assert cka_lib.linear_cka(x, y) == pytest.approx(ref_biased_cka(x, y), abs=1e-5)
    assert cka_lib.linear_cka(x, y, unbiased=True) == pytest.approx(
        ref_minibatch_cka(x, y, len(x)), abs=1e-5
    )


def test_minibatch_close_to_full_batch_on_low_dimensional_features():
    # With few features relative to the batch (p, q <= 12 vs batch 256) the
    # estimators agree closely; the tolerance 0.02 covers the sampling
    # difference between minibatch HSIC_1 and full-batch HSIC_0.
    x, y = random_features(6, n=4096)
    full = ref_biased_cka(x[:2048], y[:2048])
    assert stream(x, y, 256) == pytest.approx(full, abs=0.02)


def test_biased_full_batch_overestimates_on_wide_random_features():
    # Independent wide features: biased CKA is far above 0, the minibatch
    # unbiased estimate stays near 0 (why Nguyen et al. use HSIC_1).
    rng = np.random.default_rng(7)
    x = rng.normal(size=(256, 2000)).astype(np.float32)
    y = rng.normal(size=(256, 2000)).astype(np.float32)
    assert cka_lib.linear_cka(x, y) > 0.5
    assert abs(stream(x, y, 64)) < 0.05


def test_constant_features_give_nan():
    x, _ = random_features(0, n=32)
    constant = np.ones((32, 5), np.float32)
    cka = cka_lib.MinibatchCKA()
    cka.update([x, constant], [x])
    m = cka.result()
    assert m[0, 0] == pytest.approx(1.0, abs=1e-6) and np.isnan(m[1, 0])


def test_rejects_small_or_mismatched_batches():
    cka = cka_lib.MinibatchCKA()
    with pytest.raises(ValueError, match="at least 4"):
        cka.update([np.zeros((3, 2))], [np.zeros((3, 2))])
    with pytest.raises(ValueError, match="same number of examples"):
        cka.update([np.zeros((8, 2))], [np.zeros((6, 2))])
    with pytest.raises(ValueError, match="call `update` first"):
        cka.result()


# ---- whole-network comparison on tiny inline models ----------------------
def tiny_net(seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="block_1")(inputs)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="block_2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, name="logits")(x)
    return keras.Model(inputs, outputs)


def test_compare_networks_matches_reference_on_layer_outputs():
    a, b = tiny_net(0), tiny_net(1)
    images = np.random.default_rng(0).normal(size=(50, 8, 8, 3)).astype(np.float32)
    result = cka_lib.compare_networks(
        a, b, (images, np.zeros(50)), ["block_1", "block_2"], ["block_1", "block_2"], batch_size=16
    )
    assert result.names_a == ["block_1", "block_2", "logits"]
    assert result.matrix.shape == (3, 3)
    # 50 = 3 x 16 + 2: the last two examples cannot form an HSIC_1 batch.
    assert (result.num_examples, result.num_batches, result.skipped_examples) == (48, 3, 2)
    feats_a = keras.Model(a.inputs, a.get_layer("block_2").output).predict(images[:48], verbose=0)
    logits_b = b.predict(images[:48], verbose=0)
    assert result.matrix[1, 2] == pytest.approx(ref_minibatch_cka(feats_a, logits_b, 16), abs=1e-4)
    # The same network against itself: ones on the diagonal.
    self_result = cka_lib.compare_networks(a, a, images, ["block_1", "block_2"], ["block_1", "block_2"])
    np.testing.assert_allclose(np.diag(self_result.matrix), 1.0, atol=1e-5)
    assert self_result.diagonal()["logits"] == pytest.approx(1.0, abs=1e-5)


def test_compare_networks_single_layer():
    # One layer and no logits: keras returns a bare tensor, not a list.
    a, b = tiny_net(0), tiny_net(1)
    images = np.random.default_rng(1).normal(size=(32, 8, 8, 3)).astype(np.float32)
    result = cka_lib.compare_networks(a, b, images, ["block_2"], ["block_2"], include_logits=False, batch_size=16)
    assert result.matrix.shape == (1, 1)
    feats = [keras.Model(m.inputs, m.get_layer("block_2").output).predict(images, verbose=0) for m in (a, b)]
    assert result.matrix[0, 0] == pytest.approx(ref_minibatch_cka(*feats, 16), abs=1e-4)


def test_compare_networks_bad_input():
    a = tiny_net(0)
    images = np.zeros((16, 8, 8, 3), np.float32)
    with pytest.raises(ValueError, match=r"\['nope'\] are not in model.*Available layers"):
        cka_lib.compare_networks(a, a, images, ["nope"], ["block_1"])
    with pytest.raises(ValueError, match="expects"):
        cka_lib.compare_networks(a, a, np.zeros((16, 9, 9, 3)), ["block_1"], ["block_1"])
    with pytest.raises(TypeError, match="must be a keras.Model"):
        cka_lib.compare_networks("base.keras", a, images, ["block_1"], ["block_1"])


def test_models_without_known_blocks_need_explicit_names():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense_out")(inputs))
    with pytest.raises(ValueError, match="pass the layers to analyse explicitly"):
        common.resolve_layer_names(model)
