"""A run never loses work (issue 21): faults injected at chosen writes.

`keras_tna.runs.atomic.fault_hook` is called at every step of every write of
a run directory; the tests raise there a simulated kill (a BaseException),
an OSError (disk full) or KeyboardInterrupt (SIGINT), resume, and compare
with an uninterrupted deterministic run. The slow tests do the same with
real signals and a real file-size limit in a subprocess.
"""

import csv
import errno
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

import h5py
import pytest
from absl import flags as absl_flags

from keras_tna import reporting
from keras_tna import training
from keras_tna.runs import atomic
from keras_tna.runs import collapse as run_collapse
from keras_tna.runs import layout
from keras_tna.runs import record as run_record
from keras_tna.runs import store
from keras_tna.runs.lock import RunLock, RunLockedError

from _smoke import smoke_config  # tests/_smoke.py

REPO = pathlib.Path(__file__).resolve().parents[2]
COMMITTED = REPO / "docs" / "results"


class _Kill(BaseException):
    """A simulated `kill -9`: nothing of the run's own code catches it."""


def _fault_at(monkeypatch, event, suffix, error, occurrence=1):
    """Raises `error` at the `occurrence`-th `event` on a path ending in `suffix`."""
    seen = []

    def hook(name, path):
        if name == event and path.as_posix().endswith(suffix):
            seen.append(path)
            if len(seen) == occurrence:
                raise error

    monkeypatch.setattr(atomic, "fault_hook", hook)
    return seen


def _smoke(output_dir, **changes):
    """The shared smoke run (tests/_smoke.py), deterministic: resumes compare bit for bit."""
    return smoke_config(output_dir, **{"deterministic": True, **changes})


def _history(run_dir):
    with open(pathlib.Path(run_dir) / layout.HISTORY_FILE) as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row.pop("epoch_time_s")  # wall-clock
    return rows


def _outcome(results):
    return {k: v for k, v in results.items() if k not in ("wall_time_s", "flags")}


def _assert_same_run(run_dir, results, reference):
    ref_dir, ref_results = reference
    assert _outcome(results) == _outcome(ref_results)
    assert _history(run_dir) == _history(ref_dir)
    stored = json.loads((pathlib.Path(run_dir) / layout.RESULTS_FILE).read_text())
    assert _outcome(stored) == _outcome(json.loads(json.dumps(ref_results)))
    assert not list(pathlib.Path(run_dir).rglob(".tmp-*"))
    assert not list(pathlib.Path(run_dir).rglob(".staging-*"))
    assert not (pathlib.Path(run_dir) / layout.LOCK_FILE).exists()


@pytest.fixture
def reference(tna_smoke_run):
    """The uninterrupted deterministic smoke run (tests/conftest.py): (run dir, results)."""
    config, results = tna_smoke_run
    return pathlib.Path(config.output_dir), results


# ------------------------------------------------ checkpoint units, no training
def _weights(epoch):
    def write(path):
        with h5py.File(path, "w") as f:
            f["epoch"] = epoch
    return write


def _rows(epochs):
    return [run_record.history_row(e, {"loss": 1.0 / (e + 1), "epoch_time_s": 0.5})
            for e in range(epochs)]


def _checkpoint_epochs(record, start, end):
    for epoch in range(start + 1, end + 1):
        record.save_checkpoint(epoch, 10.0 * epoch, _rows(epoch), _weights(epoch))


def test_a_kill_at_any_write_of_any_checkpoint_keeps_a_complete_one(tmp_path, monkeypatch):
    # The order of the steps is under test here, not the disk: no fsync (fast).
    monkeypatch.setattr(atomic, "_fsync_file", lambda path: None)
    monkeypatch.setattr(atomic, "fsync_dir", lambda path: None)
    monkeypatch.setattr(run_record, "fsync_dir", lambda path: None)
    events = []
    monkeypatch.setattr(atomic, "fault_hook", lambda e, p: events.append((e, p)))
    uninterrupted = run_record.RunRecord(tmp_path / "whole")
    _checkpoint_epochs(uninterrupted, 0, 4)
    monkeypatch.setattr(atomic, "fault_hook", None)
    expected = (uninterrupted.path / layout.HISTORY_FILE).read_text()
    kinds = {e for e, _ in events}
    assert kinds == {"write", "written", "replaced", "unit", "prune"}, kinds
    for index in range(len(events)):
        record = run_record.RunRecord(tmp_path / f"kill_{index}")
        count = iter(range(len(events)))

        def hook(event, path, index=index, count=count):
            if next(count) == index:
                raise _Kill()

        monkeypatch.setattr(atomic, "fault_hook", hook)
        with pytest.raises(_Kill):
            _checkpoint_epochs(record, 0, 4)
        monkeypatch.setattr(atomic, "fault_hook", None)
        # The hook runs before each step: the units renamed so far are complete.
        complete = sum(e == "unit" for e, _ in events[:index])
        checkpoint = record.latest_checkpoint()
        # Never a mix: the newest complete unit, with its own weights and rows.
        if complete == 0:
            assert checkpoint is None, (index, events[index])
            start = 0
        else:
            assert checkpoint.epoch == complete, (index, events[index])
            with h5py.File(checkpoint.weights_path) as f:
                assert int(f["epoch"][()]) == checkpoint.epoch
            assert checkpoint.rows == _rows(checkpoint.epoch)
            assert checkpoint.wall_time_s == 10.0 * checkpoint.epoch
            start = checkpoint.epoch
        record.clean_leftovers()
        _checkpoint_epochs(record, start, 4)
        record.finish_history(record.latest_checkpoint().rows)  # as `train` does
        assert (record.path / layout.HISTORY_FILE).read_text() == expected
        units = sorted(p.name for p in record.checkpoints_dir.iterdir())
        assert units == ["epoch_0003", "epoch_0004"], (index, units)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    atomic.atomic_write(path, "old")
    _fault_at(monkeypatch, "written", "results.json", OSError(errno.ENOSPC, "No space"))
    with pytest.raises(OSError):
        atomic.atomic_write(path, "new")
    assert path.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["results.json"]


def test_disk_full_names_the_file_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    record = run_record.RunRecord(tmp_path)
    _checkpoint_epochs(record, 0, 1)
    _fault_at(monkeypatch, "write", ".staging-epoch_0002/state.weights.h5",
              OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(atomic.RunWriteError) as info:
        _checkpoint_epochs(record, 1, 2)
    message = str(info.value)
    assert "\n" not in message and "state.weights.h5 (No space left on device)" in message
    assert "Free at least" in message and "MiB free now" in message
    assert "the checkpoint after epoch 1 is kept" in message
    assert record.latest_checkpoint().epoch == 1


def test_damaged_units_are_rebuilt_or_skipped_for_the_one_before(tmp_path):
    record = run_record.RunRecord(tmp_path)
    _checkpoint_epochs(record, 0, 2)
    unit = record.checkpoints_dir / "epoch_0002"
    # An emptied progress.json: the unit's name and rows rebuild it.
    (unit / layout.PROGRESS_FILE).write_text("")
    checkpoint = record.latest_checkpoint()
    assert checkpoint.epoch == 2 and checkpoint.rows == _rows(2)
    assert checkpoint.wall_time_s == 2 * 0.5  # the rows' epoch_time_s
    assert checkpoint.notes == [
        f"Rebuilt {unit / 'progress.json'} (is empty) from its checkpoint: epoch 2, "
        "wall time 1 s from history.csv."
    ]
    # Truncated weights: the unit before it.
    (unit / layout.CHECKPOINT_WEIGHTS_FILE).write_bytes(b"HDF")
    checkpoint = record.latest_checkpoint()
    assert checkpoint.epoch == 1 and "Skipped the damaged checkpoint" in checkpoint.notes[0]
    (record.checkpoints_dir / "epoch_0001" / layout.CHECKPOINT_WEIGHTS_FILE).write_bytes(b"")
    with pytest.raises(ValueError, match=r"Delete .*checkpoints to train this run again"):
        record.latest_checkpoint()


# ------------------------------------------------ the collapse rule
def _committed_histories():
    return sorted(COMMITTED.rglob(layout.HISTORY_FILE))


@pytest.mark.parametrize("history", _committed_histories() or [None],
                         ids=lambda p: "none" if p is None else str(p.relative_to(COMMITTED)))
def test_collapse_rule_never_fires_on_the_committed_healthy_runs(history):
    if history is None:
        pytest.skip("no committed run histories under docs/results")
    rows = run_record.RunRecord(history.parent).read_history_rows()
    num_classes = json.loads((history.parent / layout.RESULTS_FILE).read_text())["num_classes"]
    assert run_collapse.collapse_message(rows, num_classes) is None


def _collapsing(losses, accuracies, val_accuracies=None):
    rows = []
    for epoch, (loss, acc) in enumerate(zip(losses, accuracies)):
        logs = {"base_loss": loss, "base_accuracy": acc, "loss": 2 * loss}
        if val_accuracies:
            logs["val_base_accuracy"] = val_accuracies[epoch]
        rows.append(run_record.history_row(epoch, logs))
    return rows


def test_collapse_rule_fires_on_collapsing_histories():
    # The loss explodes (~4 -> 280, the digits run at lr 0.1).
    exploding = _collapsing([1.95, 2.2, 9.0, 280.0], [0.32, 0.3, 0.2, 0.1])
    assert "training base_loss rose to 280" in run_collapse.collapse_message(exploding, 10)
    # The accuracy falls to chance (digits, lr 0.1, batch 32, measured).
    to_chance = _collapsing(
        [1.96, 2.09, 2.30, 2.31, 2.30], [0.32, 0.25, 0.10, 0.08, 0.10],
        val_accuracies=[0.586, 0.267, 0.100, 0.100, 0.100],
    )
    assert "accuracy fell to chance" in run_collapse.collapse_message(to_chance, 10)
    # Not collapses: a run that never learned (smoke), one that recovered.
    assert run_collapse.collapse_message(_collapsing([2.3, 2.3], [0.1, 0.5]), 10) is None
    recovered = _collapsing([1.9, 9.0, 1.5], [0.6, 0.1, 0.7])
    assert run_collapse.collapse_message(recovered, 10) is None


# ------------------------------------------------ the lock
def test_a_second_writer_is_refused_at_once_and_a_dead_holder_taken_over(tmp_path, capsys):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom keras_tna.runs.lock import RunLock\n"
         "RunLock(sys.argv[1]).acquire()\nprint('held', flush=True)\ntime.sleep(300)",
         str(out / layout.LOCK_FILE)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        start = time.time()
        with pytest.raises(RunLockedError) as info:
            training.train(_smoke(out))
        assert time.time() - start < 5
        message = str(info.value)
        assert "\n" not in message
        assert f"in use by pid {holder.pid} on host {socket.gethostname()} since " in message
        assert "Received: output_dir=" in message
        with pytest.raises(RunLockedError):
            training.check_run_dir(_smoke(out))
    finally:
        holder.kill()
        holder.wait()
    # The holder died (SIGKILL): its lock file is still there, its flock gone.
    assert (out / layout.LOCK_FILE).is_file()
    with RunLock(out / layout.LOCK_FILE) as lock:
        assert lock.taken_over["pid"] == holder.pid
    assert f"its holder, pid {holder.pid}" in capsys.readouterr().out
    assert not (out / layout.LOCK_FILE).exists()


def test_a_lock_left_on_another_host_is_refused_with_the_repair(tmp_path):
    path = tmp_path / layout.LOCK_FILE
    path.write_text(json.dumps({"pid": 1, "host": "elsewhere", "since": "then"}))
    with pytest.raises(RunLockedError, match=f"delete {path} and run again"):
        RunLock(path).acquire()


# ------------------------------------------------ whole runs, faults injected
@pytest.mark.large
def test_kill_disk_full_and_sigint_in_one_run_resume_to_the_uninterrupted_run(
    reference, tmp_path, monkeypatch, capsys
):
    config = _smoke(tmp_path / "run")
    faults = [
        # A kill between the epoch-2 weights and the rest of its checkpoint.
        ("replaced", ".staging-epoch_0002/state.weights.h5", _Kill()),
        # Disk full while writing the epoch-2 progress.
        ("write", ".staging-epoch_0002/progress.json",
         OSError(errno.ENOSPC, "No space left on device")),
        # SIGINT just before the epoch-2 checkpoint becomes complete.
        ("unit", "checkpoints/epoch_0002", KeyboardInterrupt()),
    ]
    for event, suffix, error in faults:
        seen = _fault_at(monkeypatch, event, suffix, error)
        with pytest.raises(BaseException) as info:
            training.train(config)
        assert seen, (event, suffix)
        if isinstance(error, OSError):
            assert isinstance(info.value, atomic.RunWriteError)
            assert "progress.json (No space left on device)" in str(info.value)
            assert "the checkpoint after epoch 1 is kept" in str(info.value)
        elif isinstance(error, KeyboardInterrupt):
            assert isinstance(info.value, run_record.RunInterrupted)
            assert str(info.value) == (
                f"Interrupted (SIGINT): {tmp_path / 'run'}: the same command resumes "
                f"it from the checkpoint after epoch 1 in {tmp_path / 'run' / 'checkpoints'}."
            )
        else:
            assert isinstance(info.value, _Kill)
        monkeypatch.setattr(atomic, "fault_hook", None)
    assert not (tmp_path / "run" / layout.RESULTS_FILE).exists()
    results = training.train(config)
    assert capsys.readouterr().out.count("Resuming from the checkpoint after epoch 1") == 3
    _assert_same_run(tmp_path / "run", results, reference)


def test_an_old_format_run_dir_with_an_empty_progress_file_resumes(reference, tmp_path, capsys):
    """The checkpoint format before issue 21, its progress.json emptied by a kill."""
    ref_dir, _ = reference
    out = tmp_path / "old"
    (out / layout.CHECKPOINTS_DIR).mkdir(parents=True)
    unit = ref_dir / layout.CHECKPOINTS_DIR / "epoch_0001"
    shutil.copy(ref_dir / layout.FLAGS_FILE, out / layout.FLAGS_FILE)
    config = _smoke(out)
    (out / layout.FLAGS_FILE).write_text(config.to_flagfile())
    shutil.copy(unit / layout.CHECKPOINT_WEIGHTS_FILE,
                out / layout.CHECKPOINTS_DIR / layout.WEIGHTS_FILE)
    (out / layout.CHECKPOINTS_DIR / layout.METADATA_FILE).write_text(
        json.dumps({"epoch": 1, "batch": 0}))
    (out / layout.CHECKPOINTS_DIR / layout.PROGRESS_FILE).write_text("")
    shutil.copy(unit / layout.HISTORY_FILE, out / layout.HISTORY_FILE)
    assert training.check_run_dir(config) == "resume"
    results = training.train(config)
    printed = capsys.readouterr().out
    assert "Rebuilt" in printed and "progress.json (is empty)" in printed
    assert "Resuming from the checkpoint after epoch 1" in printed
    _assert_same_run(out, results, reference)
    assert not (out / layout.CHECKPOINTS_DIR / layout.WEIGHTS_FILE).exists()


def test_a_directory_holding_only_a_killed_first_write_is_a_new_run(tmp_path):
    """kill -9 during the first write leaves `.tmp-<pid>-flags.txt` (and the
    lock): a run that never started, not a foreign directory (issue 32)."""
    out = tmp_path / "run"
    out.mkdir()
    (out / ".tmp-4242-flags.txt").write_text("--dataset=digits\n")
    (out / layout.LOCK_FILE).write_text("")
    assert training.check_run_dir(_smoke(out)) == "new"
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds no keras_tna run"):
        training.check_run_dir(_smoke(out))


def test_a_committed_run_dir_is_reported_and_reused(tmp_path):
    committed = sorted(COMMITTED.rglob(layout.RESULTS_FILE))
    if not committed:
        pytest.skip("no committed run directories under docs/results")
    out = tmp_path / "committed"
    shutil.copytree(committed[0].parent, out)
    stored = json.loads((out / layout.RESULTS_FILE).read_text())
    config = training.TrainConfig.from_flag_strings(
        {**layout.read_flagfile(out / layout.FLAGS_FILE), "output_dir": str(out)}
    )
    assert training.check_run_dir(config) == "done"
    assert training.train(config) == stored  # not retrained
    assert store.collect([out])[0]["base_accuracy"] == stored["base_accuracy"]
    assert len(store.read_history(out)["epoch"]) == stored["epochs"]


def test_results_keep_to_the_keys_runs_layout_declares(tmp_path):
    committed = sorted(COMMITTED.rglob(layout.RESULTS_FILE))
    if not committed:
        pytest.skip("no committed run directories under docs/results")
    for path in committed:  # what runs wrote, older ones (no twin_reinit) too
        results = json.loads(path.read_text())
        assert set(results) <= set(layout.RESULTS_KEYS), path
        assert results["status"] in layout.STATUSES, path
    latest = next(json.loads(p.read_text()) for p in committed
                  if "twin_reinit" in json.loads(p.read_text()))
    record = run_record.RunRecord(tmp_path)
    record.write_results(latest)
    assert json.loads(record.file(layout.RESULTS_FILE).read_text()) == latest
    with pytest.raises(ValueError, match=r"unknown keys \['accuracy'\]"):
        record.write_results({**latest, "accuracy": 0.5})


def test_a_damaged_results_file_is_named_by_the_report(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / layout.RESULTS_FILE).write_text('{"method": ')
    with pytest.raises(ValueError) as info:
        reporting.report([str(tmp_path)], plots=False)
    message = str(info.value)
    assert "\n" not in message
    assert f"{tmp_path / 'run' / 'results.json'} is not valid JSON" in message


def test_a_collapsed_run_is_flagged_recorded_reported_and_fails_the_sweep(
    tmp_path, monkeypatch, capsys
):
    seen = []

    def rule(rows, num_classes):
        seen.append((len(rows), num_classes))
        return "Training collapsed: (test) the accuracy fell to chance."

    monkeypatch.setattr(run_collapse, "collapse_message", rule)
    config = _smoke(tmp_path / "sweep" / "tna" / "seed_0")
    results = training.train(config)
    assert seen == [(2, 10)]  # the run's two history rows, digits' classes
    assert results["status"] == "collapsed" and "(test)" in results["message"]
    assert results["base_accuracy"] is not None  # finite: evaluated and saved
    assert "Warning: Training collapsed" in capsys.readouterr().out
    stored = json.loads((tmp_path / "sweep" / "tna" / "seed_0" / "results.json").read_text())
    assert stored["status"] == "collapsed"
    from keras_tna.cli import train as train_cli

    code = train_cli._report_sweep(config.replace(output_dir=str(tmp_path / "sweep")),
                                   [results])
    printed = capsys.readouterr()
    assert code == train_cli.EXIT_DIVERGED
    assert "1 collapsed" in printed.out and "(collapsed)" in printed.err


def test_the_cli_exits_130_on_sigint_and_3_on_a_collapse(tmp_path, monkeypatch, capsys):
    from keras_tna.cli import train as train_cli

    def interrupted(config):
        raise run_record.RunRecord(config.output_dir).interrupted_error()

    flags = absl_flags.FLAGS
    flags.unparse_flags()
    try:
        flags(["train.py", "--dataset=digits", "--image_size=32", "--method=tna",
               "--smoke", f"--output_dir={tmp_path / 'run'}"])
        monkeypatch.setattr(training, "train", interrupted)
        assert train_cli.main(["train.py"]) == 130
        assert capsys.readouterr().err.splitlines() == [
            f"train.py: Interrupted (SIGINT): {tmp_path / 'run'}: no epoch had "
            "finished; the same command starts the run again."
        ]
        collapsed = {"status": "collapsed", "message": "Training collapsed: (test)"}
        monkeypatch.setattr(training, "train", lambda config: collapsed)
        assert train_cli.main(["train.py"]) == train_cli.EXIT_DIVERGED
        assert capsys.readouterr().err == "train.py: Training collapsed: (test)\n"
    finally:
        flags.unparse_flags()


# ------------------------------------------------ real signals, real limits (slow)
def _app(tmp_path, out, prelude=""):
    """Runs apps/train.py on a smoke run in a subprocess, after `prelude`."""
    code = (
        "import os, signal, sys\n"
        # SIGINT as from a terminal, whatever the test runner passed down (a
        # shell without job control starts children with SIGINT ignored; a
        # blocked signal stays blocked across exec): the app relies on
        # Python's default KeyboardInterrupt.
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        + prelude
        + f"sys.argv = ['train.py', '--dataset=digits', '--image_size=32', "
        f"'--method=tna', '--smoke', '--learning_rate=0.01', '--deterministic', "
        f"'--verbose=0', '--output_dir={out}']\n"
        "from keras_tna.cli import train\ntrain.run()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def _hook_prelude(event, suffix, action):
    return (
        "from keras_tna.runs import atomic\n"
        "def hook(event, path):\n"
        f"    if event == {event!r} and path.as_posix().endswith({suffix!r}):\n"
        f"        {action}\n"
        "atomic.fault_hook = hook\n"
    )


def _train_py_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("train.py:")]


@pytest.mark.large
def test_real_sigkill_during_the_checkpoint_then_resume(reference, tmp_path, capsys):
    out = tmp_path / "run"
    done = _app(tmp_path, out, _hook_prelude(
        "replaced", ".staging-epoch_0002/state.weights.h5",
        "os.kill(os.getpid(), signal.SIGKILL)"))
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert (out / layout.LOCK_FILE).is_file()  # left by the killed process
    results = training.train(_smoke(out))
    assert "Taking over" in capsys.readouterr().out
    _assert_same_run(out, results, reference)


@pytest.mark.large
def test_real_sigkill_during_the_first_write_then_the_same_command_trains(reference, tmp_path):
    """kill -9 with flags.txt's temporary file written, not yet renamed: the
    directory holds only keras_tna's leftovers, and the re-run is a new run
    (issue 32), equal to the uninterrupted one."""
    out = tmp_path / "run"
    done = _app(tmp_path, out, _hook_prelude(
        "written", "run/flags.txt", "os.kill(os.getpid(), signal.SIGKILL)"))
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert any(p.name.startswith(".tmp-") for p in out.iterdir())  # the leftover
    assert not (out / layout.FLAGS_FILE).exists()
    _assert_same_run(out, training.train(_smoke(out)), reference)
    assert not any(p.name.startswith(".tmp-") for p in out.iterdir())  # cleaned


@pytest.mark.large
def test_real_sigint_is_one_line_exit_130_and_resumable(reference, tmp_path):
    out = tmp_path / "run"
    done = _app(tmp_path, out, _hook_prelude(
        "unit", "checkpoints/epoch_0002", "os.kill(os.getpid(), signal.SIGINT)"))
    assert done.returncode == 130, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert _train_py_lines(done.stderr) == [
        f"train.py: Interrupted (SIGINT): {out}: the same command resumes it from "
        f"the checkpoint after epoch 1 in {out / 'checkpoints'}."
    ]
    _assert_same_run(out, training.train(_smoke(out)), reference)


@pytest.mark.large
def test_a_real_file_size_limit_is_one_line_without_a_crash(tmp_path):
    out = tmp_path / "run"
    done = _app(tmp_path, out, (
        "import resource\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))\n"
    ))
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    (line,) = _train_py_lines(done.stderr)
    assert "state.weights.h5" in line and "Free at least" in line, line
    assert "no epoch had finished" in line


@pytest.mark.large
@pytest.mark.parametrize("event, suffix, occurrence", [
    ("written", ".staging-epoch_0001/state.weights.h5", 1),
    ("replaced", ".staging-epoch_0002/history.csv", 1),
    ("replaced", ".staging-epoch_0002/progress.json", 1),
    ("unit", "checkpoints/epoch_0002", 1),
    ("write", "run/history.csv", 2),
    ("written", "run/history.csv", 2),
    ("write", "run/base.keras", 1),
    ("replaced", "run/twin.keras", 1),
    ("written", "run/results.json", 1),
    ("replaced", "run/results.json", 1),
])
def test_a_kill_at_each_write_resumes_to_the_uninterrupted_run(
    reference, tmp_path, monkeypatch, event, suffix, occurrence
):
    config = _smoke(tmp_path / "run")
    seen = _fault_at(monkeypatch, event, suffix, _Kill(), occurrence)
    with pytest.raises(_Kill):
        training.train(config)
    assert len(seen) == occurrence
    monkeypatch.setattr(atomic, "fault_hook", None)
    _assert_same_run(tmp_path / "run", training.train(config), reference)
