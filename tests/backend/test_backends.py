"""Across Keras backends: files saved on one load and resume on the others;
keras.distribution on JAX.

Each test starts fresh interpreters (`KERAS_BACKEND` is read once). A file is
saved on the backend this pytest runs on and loaded on each other one, so CI's
three passes (TensorFlow, JAX, PyTorch) cover all six directions once.
"""

import importlib.util
import os
import pathlib
import subprocess
import sys

import keras
import pytest

pytestmark = pytest.mark.every_backend  # also in the JAX and PyTorch passes

WORKER = pathlib.Path(__file__).parents[1] / "_backend_worker.py"
REPO = pathlib.Path(__file__).resolve().parents[2]
HERE = keras.backend.backend()
MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def installed(backend):
    return importlib.util.find_spec(MODULES[backend]) is not None


def run_worker(mode, directory, backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, str(WORKER), mode, str(directory)],
        env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def saved_here(tmp_path_factory):
    """A TwinModel trained and saved on this pytest's backend (worker "save")."""
    directory = tmp_path_factory.mktemp(f"saved_on_{HERE}")
    result = run_worker("save", directory, HERE)
    assert result.returncode == 0, result.stderr[-3000:]
    return directory


@pytest.mark.large
@pytest.mark.parametrize("loader", [b for b in MODULES if b != HERE])
def test_saved_twin_model_loads_and_resumes_on_the_other_backend(saved_here, loader):
    """Weights, both optimizers' states, predictions, and one more epoch agree.

    The epoch after loading is compared with the saver's own next epoch: it
    differs if any optimizer state (SGD momentum, Adam moments) was lost.
    """
    if not installed(loader):
        pytest.skip(f"{loader} not installed")
    result = run_worker("load", saved_here, loader)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"ok {loader}" in result.stdout
    assert "Skipping variable loading" not in result.stderr, result.stderr[-3000:]


@pytest.mark.large
@pytest.mark.skipif(
    HERE != "jax" or not installed("jax"),
    reason="keras.distribution's DataParallel is tested in the JAX pass",
)
def test_data_parallel_on_two_jax_host_devices_matches_one_device(run_python):
    """keras.distribution.DataParallel over 2 host CPUs gives one device's weights."""
    code = """
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import sys
import jax, keras, numpy as np
from keras_tna import TwinModel
sys.path.insert(0, "TESTS")
from _tiny_nets import mlp as net, toy_classification

x, y = toy_classification()

def train(distribution):
    keras.distribution.set_distribution(distribution)
    model = TwinModel(net(0), net(10), alpha=0.3)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  twin_optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    sharding = model.base.trainable_variables[0].value.sharding
    return [np.asarray(w) for w in model.get_weights()], sharding

one, _ = train(None)
assert len(jax.devices()) == 2, jax.devices()
two, sharding = train(keras.distribution.DataParallel(devices=jax.devices()))
assert len(sharding.device_set) == 2, sharding
assert not np.allclose(one[0], net(0).get_weights()[0])  # it trained
for a, b in zip(one, two):
    np.testing.assert_allclose(a, b, atol=1e-5)
print("ok", len(one))
"""
    code = code.replace("TESTS", str(pathlib.Path(__file__).parents[1]))
    result = run_python(code, backend="jax", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok" in result.stdout


def test_a_backend_twin_model_does_not_train_on_is_named():
    from keras_tna import backend

    with pytest.raises(NotImplementedError, match=r"Received: KERAS_BACKEND='numpy'"):
        backend.steps("numpy")


def test_optimizers_are_written_by_their_public_names():
    """On PyTorch keras' optimizer classes live in a torch module; the config
    names `keras.optimizers` instead, nested optimizers included."""
    from keras_tna import backend

    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(0.1, momentum=0.9)
    )
    config = backend.serialize_optimizer(optimizer)
    modules = [config["module"], config["config"]["inner_optimizer"]["module"]]
    assert modules == ["keras.optimizers", "keras.optimizers"], modules
    again = keras.saving.deserialize_keras_object(config)
    assert again.inner_optimizer.get_config() == optimizer.inner_optimizer.get_config()
    assert backend.serialize_optimizer(None) is None


@pytest.mark.large
@pytest.mark.skipif(HERE != "torch", reason="torch.compile is tested in the PyTorch pass")
def test_jit_compile_on_torch_trains_as_the_eager_step():
    """`compile(jit_compile=True)` wraps the TwinModel step in `torch.compile`;
    losses and weights after training equal the eager step's (both optimizers,
    momentum and Adam state included). Compiling costs about a minute on 2 CPUs."""
    import numpy as np
    from _tiny_nets import mlp as net, toy_classification  # tests/_tiny_nets.py

    from keras_tna import TwinModel

    x, y = toy_classification()

    def train(jit_compile):
        model = TwinModel(net(0), net(10), alpha=0.3)
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                      twin_optimizer=keras.optimizers.Adam(1e-2),
                      jit_compile=jit_compile)
        history = model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        return model, history.history

    eager, eager_history = train(False)
    compiled, compiled_history = train(True)
    assert compiled.jit_compile is True and eager.jit_compile is False
    assert not np.allclose(eager.get_weights()[0], net(0).get_weights()[0])  # trained
    assert set(compiled_history) == set(eager_history)
    for name in eager_history:
        np.testing.assert_allclose(compiled_history[name], eager_history[name],
                                   rtol=1e-5, err_msg=name)
    for a, b in zip(eager.get_weights(), compiled.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
