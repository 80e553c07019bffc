"""A TwinModel saved on one Keras backend loads on the other, state included."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

WORKER = pathlib.Path(__file__).with_name("_backend_worker.py")


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax not installed")
@pytest.mark.parametrize("saver,loader", [("tensorflow", "jax"), ("jax", "tensorflow")])
def test_saved_twin_model_loads_on_the_other_backend(tmp_path, saver, loader):
    for mode, backend in (("save", saver), ("load", loader)):
        env = {**os.environ, "KERAS_BACKEND": backend}
        result = subprocess.run(
            [sys.executable, str(WORKER), mode, str(tmp_path)],
            env=env, capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert f"ok {loader}" in result.stdout
