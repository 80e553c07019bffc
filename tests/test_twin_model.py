"""TwinModel: the objective against numpy, Keras conventions, saving, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_tna import METRIC_NAMES, DivergenceGuard, TwinModel, make_twin
from keras_tna.losses import LogitMatching, MutualKL, get_matching_loss

pytestmark = pytest.mark.every_backend  # also in the JAX and PyTorch passes

D, C, N = 5, 4, 8  # features, classes, batch


def linear(seed, name=None):
    return keras.Sequential(
        [
            keras.Input((D,)),
            keras.layers.Dense(
                C,
                kernel_initializer=keras.initializers.RandomNormal(seed=seed),
                bias_initializer=keras.initializers.RandomNormal(seed=seed + 7),
            ),
        ],
        name=name,
    )


def batch(seed=0, n=N):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(n, D)).astype("float32"),
        rng.integers(0, C, size=n).astype("int32"),
    )


# ----------------------------------------------------------------- numpy oracle
def softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def numpy_step(wa, ba, wb, bb, x, y, alpha, lr, mode, temperature=1.0):
    """One SGD step of the TNA / DML / frozen-twin objective, by hand."""
    x, n = x.astype("float64"), len(y)
    oa, ob = x @ wa + ba, x @ wb + bb
    onehot = np.eye(C)[y]
    ga = (softmax(oa) - onehot) / n
    gb = (softmax(ob) - onehot) / n
    if mode in ("tna", "frozen"):
        ga = ga + alpha * 2.0 * (oa - ob) / n
        gb = gb + alpha * 2.0 * (ob - oa) / n
    elif mode == "dml":
        t = temperature
        pa, pb = softmax(oa / t), softmax(ob / t)
        # d/do_A of T^2 KL(p_B || p_A(o/T)) = T (p_A - p_B)
        ga = ga + alpha * t * (pa - pb) / n
        gb = gb + alpha * t * (pb - pa) / n
    new_a = (wa - lr * x.T @ ga, ba - lr * ga.sum(0))
    new_b = (wb, bb) if mode == "frozen" else (wb - lr * x.T @ gb, bb - lr * gb.sum(0))
    return new_a, new_b


def weights(net):
    return [w.astype("float64") for w in net.get_weights()]


# A random frozen twin on toy data: keras_tna warns it is at chance (tested in
# checks/test_twin_model_inputs.py); here the step is what is checked.
@pytest.mark.filterwarnings("ignore:freeze_twin=True but the frozen twin is at chance")
@pytest.mark.parametrize(
    "mode,alpha,temperature",
    [("tna", 5e-3, 1.0), ("tna", 0.5, 1.0), ("tna", 0.0, 1.0), ("dml", 1.0, 1.0),
     ("dml", 0.7, 3.0), ("frozen", 0.5, 1.0)],
)
def test_one_sgd_step_matches_numpy(mode, alpha, temperature):
    base, twin = linear(0), linear(1)
    (wa, ba), (wb, bb) = weights(base), weights(twin)
    model = TwinModel(
        base,
        twin,
        alpha=alpha,
        matching="dml" if mode == "dml" else "tna",
        temperature=temperature,
        freeze_twin=mode == "frozen",
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    x, y = batch()
    model.fit(x, y, batch_size=N, epochs=1, shuffle=False, verbose=0)
    (ea, eb_a), (ew, eb_b) = numpy_step(wa, ba, wb, bb, x, y, alpha, 0.1, mode, temperature)
    np.testing.assert_allclose(base.get_weights()[0], ea, atol=1e-5)
    np.testing.assert_allclose(base.get_weights()[1], eb_a, atol=1e-5)
    np.testing.assert_allclose(twin.get_weights()[0], ew, atol=1e-5)
    np.testing.assert_allclose(twin.get_weights()[1], eb_b, atol=1e-5)
    # The step really moved the base (the check above cannot pass vacuously).
    assert not np.allclose(base.get_weights()[0], wa)


@pytest.mark.parametrize("frozen_side", ["base", "twin"])
def test_each_network_changes_only_through_its_own_optimizer(frozen_side):
    base, twin = linear(0), linear(1)
    before = {"base": weights(base), "twin": weights(twin)}
    model = TwinModel(base, twin, alpha=0.5)
    lrs = {"base": 0.1, "twin": 0.1, frozen_side: 0.0}
    model.compile(
        optimizer=keras.optimizers.SGD(lrs["base"]),
        twin_optimizer=keras.optimizers.SGD(lrs["twin"]),
    )
    x, y = batch()
    model.fit(x, y, batch_size=N, epochs=1, verbose=0)
    for side, net in (("base", base), ("twin", twin)):
        moved = not all(np.allclose(a, b) for a, b in zip(before[side], weights(net)))
        assert moved == (side != frozen_side), side
    assert model.base_optimizer.iterations.numpy() == 1
    assert model.twin_optimizer.iterations.numpy() == 1


def test_uncompiled_fit_compiles_with_independent_adam_copies():
    model = TwinModel(linear(0), linear(1))
    x, y = batch(n=32)
    model.fit(x, y, epochs=1, verbose=0)
    assert isinstance(model.base_optimizer, keras.optimizers.Adam)
    assert isinstance(model.twin_optimizer, keras.optimizers.Adam)
    assert model.base_optimizer is not model.twin_optimizer
    # Each holds state for its own network only.
    assert len(model.base_optimizer.variables) == len(model.twin_optimizer.variables)
    base_m = [v.numpy() for v in model.base_optimizer.variables if len(v.shape) == 2]
    twin_m = [v.numpy() for v in model.twin_optimizer.variables if len(v.shape) == 2]
    assert len(base_m) == len(twin_m) == 2  # Adam's m and v for the kernel
    assert not np.allclose(base_m[0], twin_m[0])


def test_metrics_names_logged_once_and_reset_each_epoch():
    model = TwinModel(linear(0), linear(1))
    x, y = batch(n=32)
    history = model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0)
    expected = set(METRIC_NAMES) | {f"val_{m}" for m in METRIC_NAMES}
    assert set(history.history) == expected
    assert len(model.metrics_names) == len(set(model.metrics_names)) == 7
    # Reset between calls: evaluating twice gives the same numbers.
    first = model.evaluate(x, y, return_dict=True, verbose=0)
    second = model.evaluate(x, y, return_dict=True, verbose=0)
    assert first == pytest.approx(second)


def test_evaluate_reports_base_twin_and_ensemble_accuracy():
    base, twin = linear(0), linear(1)
    model = TwinModel(base, twin, alpha=0.0)
    x, y = batch(n=64)
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    ob, ot = base.predict(x, verbose=0), twin.predict(x, verbose=0)
    assert logs["base_accuracy"] == pytest.approx(np.mean(ob.argmax(1) == y))
    assert logs["twin_accuracy"] == pytest.approx(np.mean(ot.argmax(1) == y))
    assert logs["ensemble_accuracy"] == pytest.approx(
        np.mean(((ob + ot) / 2).argmax(1) == y)
    )
    oa64, ob64 = ob.astype("float64"), ot.astype("float64")
    assert logs["matching_loss"] == pytest.approx(
        np.mean(np.sum((oa64 - ob64) ** 2, -1)), rel=1e-5
    )
    ens = model.ensemble()
    np.testing.assert_allclose(ens.predict(x, verbose=0), (ob + ot) / 2, atol=1e-6)


def test_one_hot_labels_give_the_same_step_as_class_ids():
    x, y = batch()
    results = []
    for labels, loss in (
        (y, None),
        (np.eye(C, dtype="float32")[y], keras.losses.CategoricalCrossentropy(from_logits=True)),
    ):
        base, twin = linear(0), linear(1)
        model = TwinModel(base, twin, alpha=0.5)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
        logs = model.fit(x, labels, batch_size=N, verbose=0).history
        results.append((base.get_weights()[0], logs["base_accuracy"]))
    np.testing.assert_allclose(results[0][0], results[1][0], atol=1e-6)
    assert results[0][1] == results[1][1]


def test_twin_of_another_architecture():
    deep = keras.Sequential(
        [keras.Input((D,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(C)]
    )
    model = TwinModel(linear(0), deep)
    x, y = batch(n=32)
    logs = model.fit(x, y, epochs=1, verbose=0).history
    assert np.isfinite(logs["loss"][0])


def test_late_matching_alpha_is_zero_before_the_start_epoch():
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(float(self.model.alpha_variable.numpy()))

    model = TwinModel(linear(0), linear(1), alpha=0.25, matching_start_epoch=2)
    x, y = batch(n=16)
    model.fit(x, y, epochs=4, verbose=0, callbacks=[Record()])
    assert seen == [0.0, 0.0, 0.25, 0.25]


# matching_start_epoch past the last epoch on purpose (keras_tna warns so).
@pytest.mark.filterwarnings("ignore:matching_start_epoch=3 but fit runs epochs 0 to 1")
def test_late_matching_before_start_equals_independent_training():
    x, y = batch(n=16)
    out = []
    for kwargs in ({"alpha": 0.0}, {"alpha": 0.5, "matching_start_epoch": 3}):
        base = linear(0)
        model = TwinModel(base, linear(1), **kwargs)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        out.append(base.get_weights()[0])
    np.testing.assert_allclose(out[0], out[1], atol=1e-7)


# A random frozen twin on toy data: keras_tna warns it is at chance (tested in
# checks/test_twin_model_inputs.py); here the step is what is checked.
@pytest.mark.filterwarnings("ignore:freeze_twin=True but the frozen twin is at chance")
def test_frozen_twin_is_not_updated_and_gets_no_ce_term():
    twin = linear(1)
    before = weights(twin)
    model = TwinModel(linear(0), twin, alpha=0.5, freeze_twin=True)
    x, y = batch(n=16)
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    assert logs["loss"] == pytest.approx(
        logs["base_loss"] + 0.5 * logs["matching_loss"], rel=1e-5
    )
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(before, weights(twin)):
        np.testing.assert_array_equal(a, b)


def test_regularization_losses_join_the_objective():
    def reg_net(seed):
        return keras.Sequential(
            [keras.Input((D,)), keras.layers.Dense(
                C, kernel_regularizer=keras.regularizers.L2(0.1),
                kernel_initializer=keras.initializers.RandomNormal(seed=seed))]
        )

    base, twin = reg_net(0), reg_net(1)
    model = TwinModel(base, twin, alpha=0.5)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    x, y = batch()
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    reg = 0.1 * sum(np.sum(n.get_weights()[0].astype("float64") ** 2) for n in (base, twin))
    assert logs["loss"] == pytest.approx(
        logs["base_loss"] + logs["twin_loss"] + 0.5 * logs["matching_loss"] + reg,
        rel=1e-5,
    )


# ----------------------------------------------------------------- losses
def test_logit_matching_is_sum_over_classes_mean_over_batch():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(6, C)), rng.normal(size=(6, C))
    expected = np.mean(np.sum((a - b) ** 2, -1))
    assert float(LogitMatching()(a, b)) == pytest.approx(expected, rel=1e-6)
    # The documented conversion: keras' MSE averages over classes too.
    mse = float(keras.losses.MeanSquaredError()(a, b))
    assert float(LogitMatching()(a, b)) == pytest.approx(C * mse, rel=1e-6)


def test_mutual_kl_matches_numpy_and_keeps_float32_under_mixed_precision():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(6, C)), rng.normal(size=(6, C))
    t = 2.0
    pa, pb = softmax(a / t), softmax(b / t)
    kl = lambda p, q: np.sum(p * (np.log(p) - np.log(q)), -1)  # noqa: E731
    expected = t * t * np.mean(kl(pb, pa) + kl(pa, pb))
    assert float(MutualKL(t)(b, a)) == pytest.approx(expected, rel=1e-5)
    assert LogitMatching().dtype == "float32" and MutualKL().dtype == "float32"


def test_mixed_precision_step_keeps_float32_matching(monkeypatch):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = TwinModel(linear(0), linear(1), alpha=0.5)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        assert isinstance(model.base_optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(model.twin_optimizer, keras.optimizers.LossScaleOptimizer)
        x, y = batch(n=16)
        logs = model.fit(x, y, epochs=2, verbose=0).history
        assert all(np.isfinite(v[-1]) for v in logs.values())
        ob = keras.ops.cast(model.base(x), "float16")
        ot = keras.ops.cast(model.twin(x), "float16")
        matching = LogitMatching()(ot, ob)
        assert keras.backend.standardize_dtype(matching.dtype) == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


# ----------------------------------------------------------------- saving
def test_config_round_trip_lists_every_argument():
    model = TwinModel(
        linear(0), linear(1), alpha=0.1, matching="dml", temperature=2.0,
        freeze_twin=True, matching_start_epoch=3, name="tw",
    )
    config = model.get_config()
    import inspect

    args = set(inspect.signature(TwinModel.__init__).parameters) - {"self", "kwargs"}
    assert args <= set(config)
    clone = TwinModel.from_config(config)
    assert clone.get_config()["alpha"] == 0.1
    for key in ("matching", "temperature", "freeze_twin", "matching_start_epoch", "name"):
        assert clone.get_config()[key] == config[key]


def _trained(tmp_path=None, epochs=2, **kwargs):
    model = TwinModel(linear(0), linear(1), alpha=0.3, **kwargs)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
        twin_optimizer=keras.optimizers.Adam(1e-2),
    )
    x, y = batch(n=32)
    model.fit(x, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0)
    return model, x, y


def test_keras_file_round_trip_restores_networks_and_both_optimizers(tmp_path):
    model, x, y = _trained()
    path = tmp_path / "twin.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, TwinModel)
    assert isinstance(loaded.twin_optimizer, keras.optimizers.Adam)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for opt_a, opt_b in ((model.base_optimizer, loaded.base_optimizer),
                         (model.twin_optimizer, loaded.twin_optimizer)):
        assert len(opt_a.variables) == len(opt_b.variables) > 1
        for a, b in zip(opt_a.variables, opt_b.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    # Continuing training gives identical weights: the state really was restored.
    for m in (model, loaded):
        m.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    # The base alone is a plain keras model that serves predictions.
    model.base.save(tmp_path / "base.keras")
    base = keras.saving.load_model(tmp_path / "base.keras")
    np.testing.assert_allclose(base.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_save_weights_load_weights(tmp_path):
    model, x, _ = _trained()
    model.save_weights(tmp_path / "w.weights.h5")
    other = TwinModel(linear(5), linear(6), alpha=0.3)
    other.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(model.weights, other.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt("simulated preemption")


@pytest.mark.large
def test_backup_and_restore_resumes_both_optimizers_exactly(tmp_path, op_determinism):
    x, y = batch(n=32)

    def fresh():
        model = TwinModel(linear(0), linear(1), alpha=0.3, matching_start_epoch=1)
        model.compile(
            optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
            twin_optimizer=keras.optimizers.Adam(1e-2),
        )
        return model

    reference = fresh()
    reference.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0)

    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    interrupted = fresh()
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                        callbacks=[backup, _Interrupt(2)])
    resumed = fresh()
    history = resumed.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                          callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))])
    assert len(history.history["loss"]) == 2  # epochs 3 and 4 only
    for a, b in zip(reference.weights, resumed.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(reference.twin_optimizer.variables, resumed.twin_optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# ----------------------------------------------------------------- tf.distribute
@pytest.mark.parametrize("matching,alpha", [("tna", 0.5), ("dml", 1.0)])
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute")
def test_mirrored_strategy_matches_one_device(matching, alpha):
    devices = tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
        pytest.skip("needs 2 logical CPU devices (configured in conftest)")
    x, y = batch(n=32)

    def run(strategy):
        with strategy.scope():
            model = TwinModel(linear(0), linear(1), alpha=alpha, matching=matching)
            model.compile(
                optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                twin_optimizer=keras.optimizers.SGD(0.05),
            )
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
        logs = model.fit(ds, epochs=3, verbose=0).history
        return [w.numpy() for w in model.weights], logs

    single, logs_1 = run(tf.distribute.get_strategy())
    from keras_tna.distribute import make_strategy  # own collective keys per instance

    mirrored, logs_2 = run(make_strategy("mirrored", devices=[d.name for d in devices[:2]]))
    for a, b in zip(single, mirrored):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # Logged losses are the same numbers too (not divided by the replica count).
    assert logs_1["loss"] == pytest.approx(logs_2["loss"], rel=1e-5)
    assert logs_1["matching_loss"] == pytest.approx(logs_2["matching_loss"], rel=1e-5)


# ----------------------------------------------------------------- make_twin
def test_make_twin_all_and_progressive_reinit():
    base = keras.Sequential(
        [keras.Input((D,)), keras.layers.Dense(8, name="hidden",
         kernel_initializer=keras.initializers.GlorotUniform(seed=1)),
         keras.layers.Dense(C, name="out",
         kernel_initializer=keras.initializers.GlorotUniform(seed=2))]
    )
    fresh = make_twin(base, seed=3)
    assert all(not np.allclose(a, b) for a, b in
               zip(base.get_layer("hidden").get_weights()[:1], fresh.get_layer("hidden").get_weights()[:1]))
    partial = make_twin(base, reinit=["hidden"], seed=3)
    np.testing.assert_array_equal(partial.get_layer("out").get_weights()[0],
                                  base.get_layer("out").get_weights()[0])
    assert not np.allclose(partial.get_layer("hidden").get_weights()[0],
                           base.get_layer("hidden").get_weights()[0])
    TwinModel(base, partial)  # separate weights: accepted
    again = make_twin(base, reinit=["hidden"], seed=3)
    for a, b in zip(partial.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)  # equal seeds, equal twins
    with pytest.raises(ValueError, match=r"does not have, or that have no weights: \['nope'\]"):
        make_twin(base, reinit=["nope"])


# ----------------------------------------------------------------- bad input
def test_bad_input_errors_are_clear():
    base = linear(0)
    with pytest.raises(ValueError, match="same object"):
        TwinModel(base, base)
    with pytest.raises(ValueError, match="shares weights"):
        TwinModel(base, keras.Sequential([base]))
    with pytest.raises(ValueError, match="same shape"):
        TwinModel(base, keras.Sequential([keras.Input((D,)), keras.layers.Dense(C + 1)]))
    with pytest.raises(ValueError, match="alpha"):
        TwinModel(base, linear(1), alpha=-1.0)
    with pytest.raises(ValueError, match="Unknown matching"):
        TwinModel(base, linear(1), matching="cosine")
    with pytest.raises(ValueError, match="matching_start_epoch"):
        TwinModel(base, linear(1), matching_start_epoch=-2)
    with pytest.raises(TypeError, match="keras.Model"):
        TwinModel(base, "twin")
    with pytest.raises(ValueError, match="loss_weights.*set `alpha`"):
        TwinModel(base, linear(1)).compile(loss_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="`metrics` must hold keras metrics"):
        TwinModel(base, linear(1)).compile(metrics=["no_such_metric"])
    with pytest.raises(ValueError, match="temperature"):
        get_matching_loss("dml", temperature=0)


def test_softmax_output_warns():
    soft = keras.Sequential([keras.Input((D,)), keras.layers.Dense(C, activation="softmax")])
    with pytest.warns(UserWarning, match="softmax"):
        TwinModel(soft, linear(1))


def test_labels_outside_the_classes_fail_before_training():
    model = TwinModel(linear(0), linear(1))
    x, _ = batch(n=16)
    y = np.full(16, C + 2, "int32")
    with pytest.raises(ValueError, match=r"class ids in \[0, 4\)"):
        model.fit(x, y, epochs=1, verbose=0)
    assert model.base_optimizer.iterations.numpy() == 0


def test_one_hot_dataset_of_the_wrong_width_fails_before_training():
    model = TwinModel(linear(0), linear(1))
    x, y = batch(n=16)
    onehot = np.eye(C + 1, dtype="float32")[y]
    data = tf.data.Dataset.from_tensor_slices((x, onehot)).batch(8)
    with pytest.raises(ValueError, match="One-hot labels have 5 classes"):
        model.fit(data, epochs=1, verbose=0)
    assert model.base_optimizer.iterations.numpy() == 0


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="keras' JAX data adapter gave two plain fits on one seeded reshuffling "
    "tf.data pipeline different orders (seen with keras 3.15), so the control fails",
)
def test_fit_does_not_consume_a_reshuffling_dataset():
    """TwinModel and a plain model see a seeded pipeline's batches in one order."""
    x, y = batch(n=64)

    def pipeline():
        return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(64, seed=1).batch(16)

    def plain_run(skip_one_pass):
        net = linear(0)
        net.compile(optimizer=keras.optimizers.SGD(0.5),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        data = pipeline()
        if skip_one_pass:
            for _ in data:  # what a peeking fit would do
                pass
        net.fit(data, epochs=1, verbose=0)
        return net.get_weights()[0]

    base = linear(0)
    model = TwinModel(base, linear(1), alpha=0.0)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    model.fit(pipeline(), epochs=1, verbose=0)
    # alpha=0: the base trains exactly like a plain model on the same batches.
    np.testing.assert_allclose(base.get_weights()[0], plain_run(False), atol=1e-6)
    # Control: one consumed pass changes the order, and so the weights.
    assert not np.allclose(base.get_weights()[0], plain_run(True), atol=1e-4)


def test_divergence_guard_stops_on_nan():
    model = TwinModel(linear(0), linear(1), alpha=0.5)
    model.compile(optimizer=keras.optimizers.SGD(1e30))
    x, y = batch(n=64)
    guard = DivergenceGuard()
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[guard])
    assert guard.diverged_at is not None
    assert len(history.history["loss"]) < 5 or guard.diverged_at[0] == 4
    assert "diverged" in guard.message


@pytest.mark.parametrize("loss", [LogitMatching(), MutualKL(temperature=2.5)])
def test_matching_losses_serialization_round_trip(loss):
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(3, C)), rng.normal(size=(3, C))
    assert float(restored(a, b)) == pytest.approx(float(loss(a, b)))


def test_custom_matching_loss_object_round_trips_through_keras_file(tmp_path):
    model = TwinModel(linear(0), linear(1), matching=MutualKL(temperature=4.0))
    x, y = batch(n=16)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.matching_loss_fn, MutualKL)
    assert loaded.matching_loss_fn.temperature == 4.0


def test_make_twin_gives_attention_projections_their_own_weights():
    inputs = keras.Input((4, 8))
    outputs = keras.layers.MultiHeadAttention(
        num_heads=2, key_dim=4, name="mha",
        kernel_initializer=keras.initializers.GlorotUniform(seed=1),
    )(inputs, inputs)
    base = keras.Model(inputs, outputs)
    twin = make_twin(base, seed=3)
    mha = twin.get_layer("mha")
    q, k, v = (mha._query_dense.kernel.numpy(), mha._key_dense.kernel.numpy(),
               mha._value_dense.kernel.numpy())
    assert not np.allclose(q, k) and not np.allclose(k, v)
    assert not np.allclose(q, base.get_layer("mha")._query_dense.kernel.numpy())


# A random frozen twin on toy data: keras_tna warns it is at chance (tested in
# checks/test_twin_model_inputs.py); here the step is what is checked.
@pytest.mark.filterwarnings("ignore:freeze_twin=True but the frozen twin is at chance")
def test_batchnorm_statistics_are_updated_in_both_networks():
    """Moving means after one step equal the hand-computed update (both backends)."""

    def bn_net(seed):
        return keras.Sequential(
            [keras.Input((D,)), keras.layers.BatchNormalization(momentum=0.5),
             keras.layers.Dense(C, kernel_initializer=keras.initializers.RandomNormal(seed=seed))]
        )

    base, twin = bn_net(0), bn_net(1)
    model = TwinModel(base, twin, alpha=0.5)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    x, y = batch()
    model.fit(x, y, batch_size=N, epochs=1, verbose=0)
    expected = 0.5 * 0.0 + 0.5 * x.mean(0)
    for net in (base, twin):
        np.testing.assert_allclose(net.layers[0].moving_mean.numpy(), expected, atol=1e-6)
    frozen_twin = bn_net(2)
    before = frozen_twin.layers[0].moving_mean.numpy().copy()
    TwinModel(bn_net(3), frozen_twin, freeze_twin=True).fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(frozen_twin.layers[0].moving_mean.numpy(), before)
