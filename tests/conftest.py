"""Shared fixtures: the real CIFAR-10 image folder from ../shared when present."""

import os
import pathlib
import subprocess
import sys
import tarfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Keras before TensorFlow: on the PyTorch backend keras loads torch._dynamo,
# which imports triton, and triton's LLVM crashes the process (segmentation
# fault) when TensorFlow was loaded first (docs/backends.md).
import keras  # noqa: E402, F401
import tensorflow as tf  # noqa: E402

# Two logical CPU devices, so that tf.distribute.MirroredStrategy can be tested
# on one CPU. This must run before TensorFlow initialises its devices.
_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(
        _cpus[0],
        [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()],
    )
except RuntimeError:  # devices were initialised already (e.g. by a plugin)
    pass

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_TAR = pathlib.Path(
    os.environ.get(
        "KERAS_TNA_SHARED_CIFAR10",
        REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.xz",
    )
)
CACHE = pathlib.Path(
    os.environ.get("KERAS_TNA_CACHE", pathlib.Path.home() / ".cache" / "keras_tna")
)


@pytest.fixture
def run_python():
    """Runs Python code in a fresh interpreter that imports this checkout.

    Returns a function `run(code, backend=None, timeout=120)` giving the
    `subprocess.CompletedProcess` (text stdout/stderr); `backend` sets
    `KERAS_BACKEND`.
    """

    def run(code, backend=None, timeout=120):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        if backend is not None:
            env["KERAS_BACKEND"] = backend
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True,
            timeout=timeout,
        )

    return run


def pytest_addoption(parser):
    parser.addoption(
        "--run_large",
        action="store_true",
        default=False,
        help="also run the tests marked `large` (notebooks, multi-process "
        "tf.distribute, kill-and-resume trials, fresh-interpreter checks); "
        "CI runs them (.ci/run).",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "large: a heavy test (over ~5 s on 2 cores, or a fresh interpreter); "
        "runs only with --run_large",
    )
    config.addinivalue_line(
        "markers",
        "every_backend: runs on each Keras backend (KERAS_BACKEND=jax/torch "
        "runs only these; the rest are TensorFlow-only)",
    )


def pytest_collection_modifyitems(config, items):
    """Deselects what this pass does not run: large tests without --run_large,
    and on JAX or PyTorch every test not marked `every_backend`."""
    other_backend = keras.backend.backend() != "tensorflow"
    run_large = config.getoption("--run_large")
    kept, dropped = [], []
    for item in items:
        if (not run_large and item.get_closest_marker("large")) or (
            other_backend and not item.get_closest_marker("every_backend")
        ):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def cifar10_folder():
    """Path to the real CIFAR-10 image folder (train/, test/); skips if absent."""
    dest = CACHE / "cifar10-jpeg"
    if (dest / "test").is_dir() and (dest / "train").is_dir():
        return dest
    if not SHARED_TAR.is_file():
        pytest.skip(f"real CIFAR-10 not available here ({SHARED_TAR} is absent)")
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = CACHE / "cifar10-jpeg.partial"
    with tarfile.open(SHARED_TAR) as tar:
        tar.extractall(tmp, filter="data")
    (tmp / "cifar10-jpeg").rename(dest)
    tmp.rmdir()
    return dest


@pytest.fixture
def op_determinism():
    """Turns TensorFlow's op determinism on for one test, then off again."""
    from tensorflow.python.framework import config as tf_config

    tf.config.experimental.enable_op_determinism()
    yield
    tf_config.disable_op_determinism()


@pytest.fixture(scope="session")
def tna_smoke_run(tmp_path_factory):
    """The shared smoke run (tests/_smoke.py), deterministic, trained once per
    session: `(config, results)`. Tests only read it; one that changes a run
    copies it or trains its own in `tmp_path`."""
    # Here, not at the top: keras_tna loads after the backend and device set-up above.
    from _smoke import smoke_config  # tests/_smoke.py
    from keras_tna import training

    config = smoke_config(tmp_path_factory.mktemp("tna_smoke_run"), deterministic=True)
    return config, training.train(config)

