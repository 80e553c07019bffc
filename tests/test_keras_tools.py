"""TwinModel with Keras' own tools: LR callbacks, generators, metrics, export.

Each test pins one class of issue 19 against an independent reference (numpy,
the equivalent array input, the networks' own counts). Runs on TensorFlow and
JAX (`KERAS_BACKEND=jax`).
"""

import io
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from keras import ops

from keras_tna import TwinModel

pytestmark = pytest.mark.every_backend  # also in the JAX and PyTorch passes

D, C = 5, 4


def linear(seed, units=C, name=None):
    return keras.Sequential(
        [
            keras.Input((D,)),
            keras.layers.Dense(
                units, kernel_initializer=keras.initializers.RandomNormal(seed=seed)
            ),
        ],
        name=name,
    )


def data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, D)).astype("float32")
    return x, rng.integers(0, C, size=n).astype("int32")


def sgd_model(lr=0.1, **kwargs):
    model = TwinModel(linear(0), linear(1), **kwargs)
    model.compile(optimizer=keras.optimizers.SGD(lr, name="sgd"))
    return model


def lr(optimizer):
    return float(ops.convert_to_numpy(optimizer.learning_rate))


# -------------------------------------------------------------- learning rate
@pytest.mark.parametrize(
    "callback",
    [
        # epoch 1 improves on -inf, epoch 2 cannot beat it by 1e9: halves once
        lambda: keras.callbacks.ReduceLROnPlateau(
            "loss", mode="max", min_delta=1e9, patience=1, factor=0.5
        ),
        lambda: keras.callbacks.LearningRateScheduler(lambda e, lr: 0.1 * 0.5**e),
    ],
    ids=["ReduceLROnPlateau", "LearningRateScheduler"],
)
def test_lr_callbacks_drive_and_report_both_optimizers(callback):
    model = sgd_model(0.1)
    x, y = data()
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[callback()])
    assert lr(model.base_optimizer) == pytest.approx(0.05)
    assert lr(model.twin_optimizer) == pytest.approx(0.05)
    # both logged each epoch, one key per optimizer (ReduceLROnPlateau logs
    # the rate the epoch ran with, before it lowers it)
    assert history.history["learning_rate_sgd"] == history.history["learning_rate_twin_sgd"]
    assert len(history.history["learning_rate_sgd"]) == 2


def test_setting_model_learning_rate_sets_both_and_twin_steps_with_it():
    model = sgd_model(0.1, alpha=0.0)
    x, y = data(n=16)
    model.optimizer.learning_rate = 0.01
    assert lr(model.twin_optimizer) == pytest.approx(0.01)
    before = ops.convert_to_numpy(model.twin.weights[0])
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    # the twin's SGD step, by hand: W -= lr * x^T (softmax(xW + b) - onehot) / n
    logits = x @ before
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    grad = x.T @ (p - np.eye(C)[y]) / len(y)
    after = ops.convert_to_numpy(model.twin.weights[0])
    np.testing.assert_allclose(after, before - 0.01 * grad, rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------ generators
def _batches(x, y, size, forever):
    while True:
        for i in range(0, len(x), size):
            yield x[i : i + size], y[i : i + size]
        if not forever:
            return


@pytest.mark.parametrize("forever", [False, True], ids=["finite", "infinite"])
def test_generator_trains_the_same_steps_as_arrays(forever):
    x, y = data(n=32)
    reference = sgd_model()
    reference.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    model = sgd_model()
    model.fit(_batches(x, y, 8, forever), steps_per_epoch=4, epochs=1, verbose=0)
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == 4
    for a, b in zip(reference.weights, model.weights):
        np.testing.assert_allclose(
            ops.convert_to_numpy(a), ops.convert_to_numpy(b), rtol=1e-6, atol=1e-7
        )


def test_finite_generator_without_steps_runs_as_many_steps_as_a_plain_model():
    x, y = data(n=32)
    plain = linear(0)
    plain.compile(keras.optimizers.SGD(0.1),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    plain.fit(_batches(x, y, 8, False), epochs=1, verbose=0)
    model = sgd_model()
    model.fit(_batches(x, y, 8, False), epochs=1, verbose=0)
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == int(
        ops.convert_to_numpy(plain.optimizer.iterations)
    )


# --------------------------------------------------------------------- metrics
def _top_k(logits, y, k):
    return float(np.mean([label in np.argsort(-row)[:k] for row, label in zip(logits, y)]))


def test_compiled_metrics_are_reported_for_base_twin_and_ensemble():
    model = TwinModel(linear(0), linear(1))
    model.compile(
        metrics=["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")]
    )
    x, y = data(n=64)
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    base = model.base.predict(x, verbose=0)
    twin = model.twin.predict(x, verbose=0)
    expected = {
        "base_top2": _top_k(base, y, 2),
        "twin_top2": _top_k(twin, y, 2),
        "ensemble_top2": _top_k((base + twin) / 2, y, 2),
    }
    for name, value in expected.items():
        assert logs[name] == pytest.approx(value), name
    assert not any(k.startswith("base_base") or k == "accuracy" for k in logs)
    assert len(model.metrics_names) == 7 + 3


def test_compiled_metrics_survive_a_keras_file(tmp_path):
    model = TwinModel(linear(0), linear(1))
    model.compile(metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")])
    x, y = data(n=16)
    model.fit(x, y, epochs=1, verbose=0)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert "ensemble_top2" in loaded.evaluate(x, y, return_dict=True, verbose=0)


@pytest.mark.parametrize(
    "monitor,improves",
    [("val_base_accuracy", "up"), ("val_ensemble_top2", "up"),
     ("val_base_loss", "down"), ("val_matching_loss", "down")],
)
def test_early_stopping_auto_mode_knows_each_metric_direction(monitor, improves):
    model = TwinModel(linear(0), linear(1))
    model.compile(metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")])
    x, y = data(n=16)
    stop = keras.callbacks.EarlyStopping(monitor=monitor, patience=5)  # mode="auto"
    model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0, callbacks=[stop])
    assert stop.monitor_op is (ops.greater if improves == "up" else ops.less)


BLOCK_METRICS_LIST = """
import builtins
real_import = builtins.__import__
def without_metrics_list(name, globals=None, *args, **kwargs):
    if name == "keras.src.trainers.compile_utils" and (
            (globals or {}).get("__name__") == "keras_tna.twin_metrics"):
        raise ImportError(name)
    return real_import(name, globals, *args, **kwargs)
builtins.__import__ = without_metrics_list
"""


def test_a_keras_without_its_metrics_container_still_trains(run_python):
    # twin_metrics' one private Keras name: if Keras moves it, keras_tna still
    # imports and trains, and only mode="auto" asks for a mode.
    result = run_python(BLOCK_METRICS_LIST + textwrap.dedent("""
        import keras, numpy as np
        from keras_tna import TwinModel
        def net(seed):
            init = keras.initializers.GlorotUniform(seed)
            return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, kernel_initializer=init)])
        model = TwinModel(net(0), net(1))
        model.compile(optimizer="sgd")
        x, y = np.random.RandomState(0).rand(16, 4).astype("float32"), np.arange(16) % 3
        fit = lambda stop: model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0, callbacks=[stop])
        fit(keras.callbacks.EarlyStopping("val_base_accuracy", mode="max"))
        try:
            fit(keras.callbacks.EarlyStopping("val_base_accuracy"))
        except ValueError as error:
            print("mode='max'" in str(error))
    """))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1:] == ["True"]


# ------------------------------------------------------ introspection, export
def test_count_params_counts_the_networks_and_summary_both_optimizers():
    model = TwinModel(linear(0), linear(1, units=C))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = data(n=16)
    model.fit(x, y, epochs=1, verbose=0)
    assert model.count_params() == 2 * (D * C + C)  # alpha is no parameter
    lines = io.StringIO()
    model.summary(print_fn=lambda line, **kw: lines.write(line + "\n"))
    state = model.base_optimizer.variables + model.twin_optimizer.variables
    expected = sum(int(np.prod(v.shape)) for v in state)
    assert expected == 2 * (2 * (D * C + C) + 2)  # Adam: m, v, iteration, lr; twice
    optimizer_line = [line for line in lines.getvalue().splitlines() if "Optimizer params" in line]
    assert f"{expected:,}" in optimizer_line[0]


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf_saved_model on TF")
def test_export_after_fit_writes_the_base(tmp_path):
    model = sgd_model()
    x, y = data(n=16)
    model.fit(x, y, epochs=1, verbose=0)
    path = os.path.join(tmp_path, "exported")
    model.export(path, verbose=False)
    served = keras.layers.TFSMLayer(path, call_endpoint="serve")
    np.testing.assert_allclose(
        ops.convert_to_numpy(served(x)), model.base.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )


@pytest.mark.large
def test_load_model_works_in_a_fresh_process_importing_keras_tna_first(tmp_path):
    model = sgd_model()
    x, y = data(n=16)
    model.fit(x, y, epochs=1, verbose=0)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    np.save(os.path.join(tmp_path, "x.npy"), x)
    np.save(os.path.join(tmp_path, "out.npy"), model.predict(x, verbose=0))
    script = textwrap.dedent(f"""
        import numpy as np
        import keras_tna  # before Keras: nothing is registered yet
        model = keras_tna.load_model({path!r})
        x = np.load({os.path.join(tmp_path, "x.npy")!r})
        out = np.load({os.path.join(tmp_path, "out.npy")!r})
        assert type(model).__name__ == "TwinModel"
        np.testing.assert_allclose(model.predict(x, verbose=0), out, rtol=1e-6)
        print("loaded")
    """)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    result = subprocess.run([sys.executable, "-c", script], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "loaded" in result.stdout


# --------------------------------------------------------------------- heads
def _two_outputs():
    inputs = keras.Input((D,))
    return keras.Model(inputs, [keras.layers.Dense(C)(inputs), keras.layers.Dense(1)(inputs)])


def _spatial_logits():
    inputs = keras.Input((D,))
    return keras.Model(inputs, keras.layers.Reshape((1, C))(keras.layers.Dense(C)(inputs)))


@pytest.mark.parametrize(
    "make,message",
    [
        (_two_outputs, r"one output, the class logits.*has 2 outputs.*outputs\[0\]"),
        (lambda: linear(0, units=1), r"single output unit.*regression.*Dense\(2\)"),
        (_spatial_logits, r"logits of shape \(batch, classes\).*\(None, 1, 4\)"),
    ],
    ids=["several_outputs", "regression_head", "spatial_logits"],
)
def test_heads_twin_model_does_not_train_are_refused_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        TwinModel(make(), make())


class _TwoHeads(keras.Model):
    """A subclassed network whose outputs are known only once it is called."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = keras.layers.Dense(C), keras.layers.Dense(1)

    def call(self, x):
        return [self.a(x), self.b(x)]


def test_unbuilt_multi_output_network_is_refused_before_the_first_step():
    model = TwinModel(_TwoHeads(), _TwoHeads())
    x, y = data(n=8)
    with pytest.raises(ValueError, match="has 2 outputs"):
        model.fit(x, y, epochs=1, verbose=0)


def test_softmax_warning_names_the_keras_applications_fix():
    soft = keras.Sequential([keras.Input((D,)), keras.layers.Dense(C, activation="softmax")])
    with pytest.warns(UserWarning, match="classifier_activation=None"):
        TwinModel(soft, linear(1))


def test_twin_optimizer_apply_gives_each_optimizer_its_own_gradients():
    from keras_tna.backend import TwinOptimizer

    base, twin = linear(0), linear(1)
    owner = TwinOptimizer(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.5), base)
    variables = twin.trainable_variables + base.trainable_variables  # any order
    before = [ops.convert_to_numpy(v) for v in variables]
    grads = [ops.ones(v.shape, "float32") for v in variables]  # backend tensors (torch)
    owner.apply(grads, variables)
    rates = [0.5] * len(twin.trainable_variables) + [0.1] * len(base.trainable_variables)
    for v, b, rate in zip(variables, before, rates):
        np.testing.assert_allclose(ops.convert_to_numpy(v), b - rate, rtol=1e-6)
    assert [int(ops.convert_to_numpy(o.iterations)) for o in owner.optimizers] == [1, 1]


# ------------------------------------------------------------ the optimizer owner
@pytest.mark.parametrize("freeze_twin", [False, True], ids=["trained_twin", "frozen_twin"])
def test_the_owner_is_the_only_optimizer_the_model_holds(freeze_twin):
    from keras_tna.backend import TwinOptimizer

    model = TwinModel(linear(0), linear(1), freeze_twin=freeze_twin)
    model.compile(optimizer=keras.optimizers.SGD(0.1, name="sgd"))
    x, y = data(n=16)
    model.fit(x, y, epochs=1, verbose=0)
    owner = model.optimizer
    assert isinstance(owner, TwinOptimizer)
    held = [name for name, value in vars(model).items()
            if isinstance(value, (keras.optimizers.Optimizer, TwinOptimizer))]
    assert held == ["optimizer"]
    assert model.base_optimizer is owner.base_optimizer
    assert model.twin_optimizer is owner.twin_optimizer  # held for a frozen twin too
    trained = [owner.base_optimizer] + ([] if freeze_twin else [owner.twin_optimizer])
    assert owner.optimizers == trained


def test_both_networks_are_updated_through_the_owner():
    model = sgd_model()
    owner = model.optimizer
    inside, calls = [False], []

    def through_owner(name):
        method = getattr(owner, name)

        def wrapped(*args, **kwargs):
            inside[0] = True
            try:
                return method(*args, **kwargs)
            finally:
                inside[0] = False

        setattr(owner, name, wrapped)

    def recorded(optimizer, name):
        method = getattr(optimizer, name)

        def wrapped(*args, **kwargs):
            calls.append((optimizer.name, inside[0]))
            return method(*args, **kwargs)

        setattr(optimizer, name, wrapped)

    for name in ("apply", "stateless_apply"):
        through_owner(name)
    for optimizer in owner.optimizers:
        for name in ("apply", "apply_gradients", "stateless_apply"):
            recorded(optimizer, name)
    x, y = data(n=16)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert {name for name, _ in calls} == {"sgd", "twin_sgd"}
    assert all(in_owner for _, in_owner in calls), calls


def test_owner_finalize_writes_each_networks_ema_as_a_plain_model_does():
    x, y = data(n=32)
    kw = dict(batch_size=8, epochs=2, shuffle=False, verbose=0)
    plain = linear(0)
    plain.compile(keras.optimizers.SGD(0.1, use_ema=True),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    plain.fit(x, y, **kw)  # keras writes the EMA into the weights at the end
    model = TwinModel(linear(0), linear(0), alpha=0.0)
    model.compile(optimizer=keras.optimizers.SGD(0.1, use_ema=True))
    model.fit(x, y, **kw)
    model.optimizer.finalize_variable_values(model.trainable_variables)
    for network in (model.base, model.twin):
        for a, b in zip(network.weights, plain.weights):
            np.testing.assert_allclose(
                ops.convert_to_numpy(a), ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6
            )
