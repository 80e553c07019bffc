"""Issue 12, app level: what a bad input to `apps/train.py` gets (docs/reliability.md).

One test per class of the issue, each asserting the message (the problem, the
file or flag it names, the fix), not only the exception type. The flag and
path checks run in a subprocess with TensorFlow and Keras blocked: they must
answer before TensorFlow loads.
"""

import io
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import zipfile

import keras
import numpy as np
import pytest
from PIL import Image

from keras_tna import training
from keras_tna.data import layout as data_layout
from keras_tna.runs import layout
from keras_tna.runs import validation

from _smoke import smoke_config  # tests/_smoke.py

REPO = pathlib.Path(__file__).resolve().parents[2]
SMOKE = ["--dataset=digits", "--image_size=32", "--smoke", "--verbose=0",
         "--learning_rate=0.01"]




def _folder(root, classes=("a", "b"), images=4):
    for split in ("train", "test"):
        for name in classes:
            d = root / split / name
            d.mkdir(parents=True)
            for i in range(images):
                Image.fromarray(np.full((8, 8, 3), 30 * i, np.uint8)).save(d / f"{i}.png")
    return root


def _app_without_tensorflow(*args, program="train"):
    """Runs a program's `run()` (default: train.py's) with TensorFlow and Keras
    blocked; (rc, stdout, stderr)."""
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None\n"
        "sys.modules['keras'] = None\n"
        f"sys.argv = ['{program}.py', *{list(args)!r}]\n"
        f"from keras_tna.cli import {program}\n"
        f"{program}.run()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout, result.stderr


def _one_error_line(stderr):
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def _fake_run(out, config, progress=None, weights=None, results=None):
    """A run directory in the old checkpoint format, without training."""
    out.mkdir(parents=True)
    (out / layout.FLAGS_FILE).write_text(config.to_flagfile())
    checkpoints = out / layout.CHECKPOINTS_DIR
    checkpoints.mkdir()
    if progress is not None:
        (checkpoints / layout.PROGRESS_FILE).write_text(progress)
    if weights is not None:
        (checkpoints / layout.WEIGHTS_FILE).write_bytes(weights)
    if results is not None:
        (out / layout.RESULTS_FILE).write_text(results)
    return out


def _h5():
    """The bytes of a small valid HDF5 file."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f["x"] = np.zeros(2)
    return buffer.getvalue()


# ------------------------------------------- responsiveness: flags before TensorFlow
def test_help_and_flag_errors_answer_without_tensorflow(tmp_path):
    rc, out, err = _app_without_tensorflow("--helpfull")  # absl exits 1 after help
    assert rc == 1 and "--peer_timeout_s" in out and "Traceback" not in err, err[-2000:]
    # --help: the main flags, grouped, one line each, and exit status 0.
    rc, out, err = _app_without_tensorflow("--help")
    assert rc == 0 and err == "", err[-2000:]
    flag_lines = [line.split()[0] for line in out.splitlines() if line.startswith("  --")]
    assert "--alpha=0.005" in flag_lines and "--epochs=200" in flag_lines
    assert "--methods" in flag_lines and "--helpfull" in out
    assert out.index("What to train:") < out.index("How to train:") < out.index("Sweeps")
    assert _app_without_tensorflow("--helpshort")[:2] == (0, out)  # absl's hint
    rc, _, err = _app_without_tensorflow("--epochs=-1")
    assert rc != 0 and "Traceback" not in err
    assert "Flags parsing error: flag --epochs=-1" in err.splitlines()[0]
    rc, _, err = _app_without_tensorflow(*SMOKE, "--peer_timeout_s=0")
    assert rc != 0 and "Traceback" not in err
    assert "flag --peer_timeout_s=0.0: `peer_timeout_s` must be a finite number > 0" in err.splitlines()[0]


@pytest.mark.parametrize("program, own_flag", [
    ("cka", "include_logits"), ("probes", "--probe_batch_size"),
    ("robustness", "--source"), ("report", "plots"), ("compute_report", "--num_classes"),
])
def test_other_programs_answer_help_and_bad_runs_without_tensorflow(program, own_flag, tmp_path):
    rc, out, err = _app_without_tensorflow("--help", program=program)
    assert rc == 0 and "Traceback" not in err, err[-2000:]  # a help asked for is no error
    assert own_flag in out and "--runs" in out and "--output_dir" in out
    rc, _, err = _app_without_tensorflow(
        f"--runs={tmp_path / 'missing'}", f"--output_dir={tmp_path}", program=program)
    assert rc == 1 and "missing" in _one_error_line(err)


@pytest.mark.parametrize("shape", ["32,32", "32,x,3", "32,0,3"])
def test_compute_report_bad_input_shape_is_one_line(shape, tmp_path):
    rc, _, err = _app_without_tensorflow(f"--runs={tmp_path}", f"--input_shape={shape}",
                                         program="compute_report")
    line = _one_error_line(err)
    assert rc == 1 and "--input_shape must be three positive integers" in line
    assert f"Received: {shape}" in line


# ------------------------------------------- output_dir, twin checkpoint, run files
def _bad_inputs(tmp):
    (tmp / "afile").write_text("x")
    (tmp / "garbage.keras").write_text("not a model")
    (tmp / "dir.keras").mkdir()
    good = smoke_config(tmp / "unused")
    progress = json.dumps({"epoch": 1, "wall_time_s": 1.0})
    cut_json = '{"status": '
    return {
        "output_dir below a file": (
            [f"--output_dir={tmp / 'afile' / 'run'}"],
            ["--output_dir", "afile", "which is a file", "Received: output_dir="],
        ),
        "output_dir a file": (
            [f"--output_dir={tmp / 'afile'}"],
            ["--output_dir", "is a file, not a directory", "Received"],
        ),
        "twin_checkpoint garbage": (
            ["--method=frozen_twin", f"--twin_checkpoint={tmp / 'garbage.keras'}",
             f"--output_dir={tmp / 'r1'}"],
            ["garbage.keras", "not a .keras file keras can load", "not a zip archive",
             "retrain the twin", "Received: twin_checkpoint="],
        ),
        "twin_checkpoint a directory": (
            ["--method=frozen_twin", f"--twin_checkpoint={tmp / 'dir.keras'}",
             f"--output_dir={tmp / 'r2'}"],
            ["dir.keras", "is a directory", "Received: twin_checkpoint="],
        ),
        "progress.json without weights": (
            [f"--output_dir={_fake_run(tmp / 'p', good, progress='{not json')}"],
            ["progress.json is there but", "latest.weights.h5 is missing",
             "Delete", "checkpoints to train this run again from epoch 0",
             "--overwrite", "Received: output_dir="],
        ),
        "progress.json empty, no metadata": (
            [f"--output_dir={_fake_run(tmp / 'e', good, progress='', weights=_h5())}"],
            ["progress.json is empty", "training_metadata.json cannot tell the epoch",
             "Delete", "--overwrite"],
        ),
        "checkpoint weights truncated": (
            [f"--output_dir={_fake_run(tmp / 'w', good, progress=progress, weights=b'HDF' * 10)}"],
            ["latest.weights.h5", "is not a readable weights file", "--overwrite"],
        ),
        "results.json corrupt": (
            [f"--output_dir={_fake_run(tmp / 'r', good, results=cut_json)}"],
            ["results.json", "is not valid JSON", "--overwrite"],
        ),
        "flags.txt garbage": (
            [f"--output_dir={_fake_run(tmp / 'f', good)}"],
            ["flags.txt", "cannot be read as a run's flags", "--overwrite"],
        ),
    }


CASES = ["output_dir below a file", "output_dir a file", "twin_checkpoint garbage",
         "twin_checkpoint a directory", "progress.json without weights",
         "progress.json empty, no metadata",
         "checkpoint weights truncated", "results.json corrupt", "flags.txt garbage"]


@pytest.mark.parametrize("case", CASES)
def test_bad_paths_and_damaged_run_files_are_named_before_tensorflow(tmp_path, case):
    args, phrases = _bad_inputs(tmp_path)[case]
    if case == "flags.txt garbage":
        (tmp_path / "f" / "flags.txt").write_text("--epochs=abc\n")
    before = sorted(p for p in tmp_path.rglob("*"))
    rc, _, err = _app_without_tensorflow(*SMOKE, *args)
    line = _one_error_line(err)
    assert rc != 0
    for phrase in phrases:
        assert phrase in line, (phrase, line)
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written or deleted


def test_truncated_twin_checkpoint_is_named(tmp_path):
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    base.save(tmp_path / "base.keras")
    data = (tmp_path / "base.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut.keras' is not a .keras file keras can load"):
        validation.check_twin_checkpoint(str(tmp_path / "cut.keras"))
    # A zip that keras cannot load: named too, not keras' "File not found".
    with zipfile.ZipFile(tmp_path / "odd.keras", "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(ValueError, match=r"odd.keras' could not be loaded .*base.keras"):
        training.load_frozen_twin(str(tmp_path / "odd.keras"), 3, (4,))


# ------------------------------------------- data: one class, batch larger than the data
def test_single_class_folder_names_the_folder(tmp_path):
    _folder(tmp_path / "cats_only", classes=("cats",))
    with pytest.raises(ValueError) as info:
        data_layout.folder_files(str(tmp_path / "cats_only"))
    message = str(info.value)
    assert "cats_only/train has 1 class folder(s) (cats)" in message
    assert "at least 2 classes" in message and "Received: dataset=folder:" in message


def test_failed_start_leaves_nothing_so_the_corrected_command_trains(tmp_path):
    folder = _folder(tmp_path / "small", images=4)  # 8 training images
    config = training.TrainConfig(
        dataset=f"folder:{folder}", image_size=32, method="single", epochs=1,
        batch_size=64, verbose=0, output_dir=str(tmp_path / "run"),
    )
    with pytest.raises(ValueError) as info:
        training.train(config)
    message = str(info.value)
    assert "--batch_size=64 is larger than the training set" in message
    assert "(8 training images)" in message and "at most 8" in message
    assert not (tmp_path / "run").exists()  # no flags.txt left behind
    assert training.train(config.replace(batch_size=4))["status"] == "completed"


class _FailInFirstEpoch(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        raise RuntimeError("simulated failure in the first epoch")


def test_run_failing_before_its_first_epoch_removes_its_flags(tmp_path):
    config = smoke_config(tmp_path / "run", method="single")
    with pytest.raises(RuntimeError, match="simulated"):
        training.train(config, callbacks=[_FailInFirstEpoch()])
    assert not (tmp_path / "run" / "flags.txt").exists()
    # The corrected command is not refused as "a run with different flags".
    assert training.train(config.replace(learning_rate=0.02))["status"] == "completed"


# ------------------------------------------- divergence
def test_divergence_in_the_first_epoch_claims_no_checkpoint(tmp_path):
    results = training.train(smoke_config(tmp_path, alpha=1e12))
    assert results["status"] == "diverged" and results["last_good_epoch"] == 0
    assert "No epoch ended with a finite loss, so no checkpoint was kept" in results["message"]
    assert "Kept the checkpoint" not in results["message"]
    assert not (tmp_path / "checkpoints" / "latest.weights.h5").exists()


@pytest.mark.large
def test_sweep_with_a_diverged_run_exits_non_zero_naming_it(tmp_path):
    result = subprocess.run(
        [sys.executable, "apps/train.py", *SMOKE, "--methods=single,tna", "--seeds=0",
         "--alpha=1e12", f"--output_dir={tmp_path}"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 3, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "1 of 2 runs diverged" in last and f"{tmp_path}/tna/seed_0" in last
    assert "the other runs finished" in last
    single = json.loads((tmp_path / "single" / "seed_0" / "results.json").read_text())
    assert single["status"] == "completed"


# ------------------------------------------- multi-worker: a peer that never starts
def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


# TensorFlow's C++ log lines (not keras_tna's answer).
TENSORFLOW_LOG = ("W0000", "I0000", "E0000", "WARNING: All log messages before absl")


def _lonely_worker(tmp_path, timeout_s):
    peer = f"localhost:{_free_port()}"
    tf_config = {"cluster": {"worker": [f"localhost:{_free_port()}", peer]},
                 "task": {"type": "worker", "index": 0}}
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CONFIG": json.dumps(tf_config),
           "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "apps/train.py", *SMOKE, "--strategy=multi_worker",
         f"--peer_timeout_s={timeout_s}", f"--output_dir={tmp_path / 'run'}"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    return proc, peer


@pytest.mark.large
def test_missing_peer_is_named_while_waiting_and_times_out(tmp_path):
    proc, peer = _lonely_worker(tmp_path, 3)
    out, err = proc.communicate(timeout=300)
    assert f"Waiting for worker 1 at {peer} (TF_CONFIG) to start" in out
    assert "giving up after 3 s (--peer_timeout_s)" in out
    line = _one_error_line("\n".join(
        l for l in err.splitlines() if not l.startswith(TENSORFLOW_LOG)
    ))
    assert proc.returncode == 1
    assert line.startswith("train.py: error: Not all workers of TF_CONFIG's cluster came up")
    assert f"within 3 s (--peer_timeout_s); still missing: worker 1 at {peer}" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.large
def test_sigterm_while_waiting_for_a_peer_exits_with_one_line(tmp_path):
    proc, peer = _lonely_worker(tmp_path, 600)
    try:
        first = proc.stdout.readline()  # blocks until the wait began
        assert f"Waiting for worker 1 at {peer}" in first
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - sent < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143
    line = _one_error_line("\n".join(
        l for l in err.splitlines() if not l.startswith(TENSORFLOW_LOG)
    ))
    assert line.startswith("train.py: Stopped by SIGTERM while waiting for the workers")
    assert f"worker 1 at {peer}" in line and "nothing was trained" in line
