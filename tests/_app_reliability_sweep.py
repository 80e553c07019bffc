"""Issue 12, app level: runs `apps/train.py` on bad inputs and judges the answers.

Not a test (no `test_` prefix): a script that runs every case in a fresh
`python apps/train.py ...` subprocess of the checkout at `--root` and writes
one JSON record per case (what the user got: exit code, the first error line,
seconds). `--table OLD NEW` prints the markdown table of docs/reliability.md.

A case passes when the exit code is the expected one, nothing printed is a
Python traceback, and every expected phrase is in the output (for an error:
in its one error line). Usage (about 10 minutes on 2 CPU cores):

    PYTHONPATH=. python tests/_app_reliability_sweep.py --out /tmp/app_new.json
    git archive <old> | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old python tests/_app_reliability_sweep.py --root /tmp/old --out /tmp/app_old.json
    python tests/_app_reliability_sweep.py --table /tmp/app_old.json /tmp/app_new.json
"""

import argparse
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SMOKE = ["--dataset=digits", "--image_size=32", "--smoke", "--verbose=0",
         "--learning_rate=0.01"]


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _folder(root, classes=("a", "b"), images=3, splits=("train", "test")):
    from PIL import Image
    import numpy as np

    for split in splits:
        for name in classes:
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(images):
                Image.fromarray(
                    np.full((8, 8, 3), (40 * i) % 256, np.uint8)
                ).save(d / f"{i}.png")
    return root


class Sweep:
    def __init__(self, root, work):
        self.root, self.work = pathlib.Path(root), pathlib.Path(work)
        self._trained = None

    def app(self, args, env=None, timeout=300, on_start=None):
        """Runs apps/train.py; returns (rc, stdout, stderr, seconds)."""
        full_env = {**os.environ, "PYTHONPATH": str(self.root),
                    "TF_CPP_MIN_LOG_LEVEL": "1", **(env or {})}
        start = time.time()
        proc = subprocess.Popen(
            [sys.executable, "apps/train.py", *args], cwd=self.root, env=full_env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        if on_start is not None:
            on_start(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            rc = "killed after %d s" % timeout
        return rc, out, err, round(time.time() - start, 1)

    def trained(self):
        """A finished smoke run (tna), trained once per sweep."""
        if self._trained is None:
            out = self.work / "trained"
            rc, _, err, _ = self.app([*SMOKE, f"--output_dir={out}"])
            assert rc == 0, err[-2000:]
            self._trained = out
        return self._trained

    def interrupted(self, name):
        """A copy of the trained run as if killed after its last epoch."""
        out = self.work / name
        shutil.copytree(self.trained(), out)
        for f in ("results.json", "base.keras", "twin.keras"):
            (out / f).unlink()
        return out


def cases(s):
    """(id, group, bad input, setup -> (args, env, app kwargs), expected)."""
    w = s.work

    def folder_one_class():
        return [*SMOKE, f"--dataset=folder:{_folder(w / 'one', classes=('cats',))}",
                f"--output_dir={w / 'r1'}"], {}
    def folder_missing():
        return [*SMOKE, f"--dataset=folder:{w / 'nope'}", f"--output_dir={w / 'r2'}"], {}
    def folder_no_images():
        for split in ("train", "test"):
            for c in ("a", "b"):
                (w / "empty" / split / c).mkdir(parents=True)
        return [*SMOKE, f"--dataset=folder:{w / 'empty'}", f"--output_dir={w / 'r3'}"], {}
    def folder_no_test():
        return [*SMOKE, f"--dataset=folder:{_folder(w / 'notest', splits=('train',))}",
                f"--output_dir={w / 'r4'}"], {}
    def batch_too_big():
        return ["--dataset=folder:" + str(_folder(w / "small", images=4)), "--epochs=1",
                "--image_size=32",
                "--verbose=0", "--batch_size=64", f"--output_dir={w / 'r5'}"], {}
    def below_file():
        (w / "afile").write_text("x")
        return [*SMOKE, f"--output_dir={w / 'afile' / 'run'}"], {}
    def not_writable():
        return [*SMOKE, "--output_dir=/sys/keras_tna_run"], {}
    def is_file():
        (w / "bfile").write_text("x")
        return [*SMOKE, f"--output_dir={w / 'bfile'}"], {}
    def not_a_run():
        (w / "notes").mkdir()
        (w / "notes" / "a.txt").write_text("mine")
        return [*SMOKE, f"--output_dir={w / 'notes'}"], {}

    def twin(path):
        return [*SMOKE, "--method=frozen_twin", f"--twin_checkpoint={path}",
                f"--output_dir={w / ('t_' + pathlib.Path(path).name)}"], {}
    def twin_garbage():
        (w / "garbage.keras").write_text("not a model")
        return twin(w / "garbage.keras")
    def twin_truncated():
        data = (s.trained() / "base.keras").read_bytes()
        (w / "truncated.keras").write_bytes(data[: len(data) // 2])
        return twin(w / "truncated.keras")
    def twin_dir():
        (w / "dir.keras").mkdir()
        return twin(w / "dir.keras")
    def twin_missing():
        return twin(w / "missing.keras")
    def twin_h5():
        (w / "weights.h5").write_text("x")
        return twin(w / "weights.h5")
    def twin_other_classes():
        return ["--dataset=folder:" + str(_folder(w / "f3", classes=("a", "b", "c"), images=8)),
                "--image_size=32", "--smoke", "--verbose=0", "--method=frozen_twin",
                f"--twin_checkpoint={s.trained() / 'base.keras'}",
                f"--output_dir={w / 't_other'}"], {}

    def resume_with(name, damage):
        out = s.interrupted(name)
        damage(out)
        return [*SMOKE, f"--output_dir={out}"], {}
    def _every_unit(out, name, change):
        for unit in sorted((out / "checkpoints").glob("epoch_*")):
            change(unit / name)
    def truncated_weights():
        def damage(out):
            def cut(p):
                p.write_bytes(p.read_bytes()[: p.stat().st_size // 3])
            _every_unit(out, "state.weights.h5", cut)
        return resume_with("d_weights", damage)
    def garbage_progress():
        return resume_with("d_progress", lambda out: _every_unit(
            out, "progress.json", lambda p: p.write_text("{not json")))
    def empty_progress():
        return resume_with("d_progress_empty", lambda out: _every_unit(
            out, "progress.json", lambda p: p.write_text("")))
    def corrupt_results():
        out = w / "d_results"
        shutil.copytree(s.trained(), out)
        (out / "results.json").write_text('{"status": ')
        return [*SMOKE, f"--output_dir={out}"], {}
    def corrupt_flags():
        out = w / "d_flags"
        shutil.copytree(s.trained(), out)
        (out / "flags.txt").write_text("--epochs=abc\n")
        return [*SMOKE, f"--output_dir={out}"], {}
    def other_model():
        out = w / "d_model"
        shutil.copytree(s.trained(), out)
        return [*SMOKE, "--model=resnet18", f"--output_dir={out}"], {}

    def diverge_first_epoch():
        return [*SMOKE, "--alpha=1e12", f"--output_dir={w / 'div1'}"], {}
    def diverge_in_sweep():
        return [*SMOKE, "--methods=single,tna", "--seeds=0", "--alpha=1e12",
                f"--output_dir={w / 'div_sweep'}"], {}

    def failed_start_twin():
        bad = [*SMOKE, "--method=frozen_twin", f"--output_dir={w / 'fs1'}",
               f"--twin_checkpoint={w / 'five.keras'}"]
        five = s.work / "five_src"
        _folder(five, classes=("a", "b", "c", "d", "e"), images=4)
        rc, *_ = s.app(["--dataset=folder:" + str(five), "--image_size=32", "--smoke",
                        "--verbose=0", "--method=single", f"--output_dir={w / 'five_run'}"])
        shutil.copy(w / "five_run" / "base.keras", w / "five.keras")
        s.app(bad)  # fails: 5 classes, digits has 10
        return [*SMOKE, "--method=tna", f"--output_dir={w / 'fs1'}"], {}
    def failed_start_batch():
        small = _folder(w / "small2", images=4)
        s.app([f"--dataset=folder:{small}", "--image_size=32", "--epochs=1", "--verbose=0",
               "--batch_size=64", f"--output_dir={w / 'fs2'}"])
        return [f"--dataset=folder:{small}", "--image_size=32", "--epochs=1",
                "--verbose=0", "--batch_size=4", f"--output_dir={w / 'fs2'}"], {}

    def tf_config(**kwargs):
        port = _free_port()
        config = {"cluster": {"worker": [f"localhost:{_free_port()}", f"localhost:{port}"]},
                  "task": {"type": "worker", "index": 0}}
        return {"TF_CONFIG": json.dumps(config)}
    def peer_never_starts():
        return [*SMOKE, "--strategy=multi_worker", "--peer_timeout_s=5",
                f"--output_dir={w / 'mw1'}"], tf_config()
    def peer_never_starts_default():
        return [*SMOKE, "--strategy=multi_worker", f"--output_dir={w / 'mw0'}"], tf_config()
    def sigterm_while_waiting():
        def on_start(proc):
            time.sleep(20)
            proc.send_signal(signal.SIGTERM)
        return ([*SMOKE, "--strategy=multi_worker", f"--output_dir={w / 'mw2'}"],
                tf_config(), {"on_start": on_start, "timeout": 40})
    def peer_timeout_zero():
        return [*SMOKE, "--strategy=multi_worker", "--peer_timeout_s=0",
                f"--output_dir={w / 'mw3'}"], tf_config()
    def tf_config_bad_json():
        return [*SMOKE, "--strategy=multi_worker", f"--output_dir={w / 'mw4'}"], {
            "TF_CONFIG": "{cluster: x}"}
    def no_tf_config():
        return [*SMOKE, "--strategy=multi_worker", f"--output_dir={w / 'mw5'}"], {
            "TF_CONFIG": ""}

    def flag(*args):
        return lambda: ([*args], {})

    E = "error"
    return [
        (1, "data", "image folder with a single class", folder_one_class, E, ["one", "2 classes"]),
        (2, "data", "--dataset=folder:<path that does not exist>", folder_missing, E, ["not found", "nope"]),
        (3, "data", "image folder whose class folders hold no images", folder_no_images, E, ["no images"]),
        (4, "data", "image folder without test/", folder_no_test, E, ["test/"]),
        (5, "data", "--batch_size=64 on a folder of 8 training images", batch_too_big, E, ["batch_size", "8 training"]),
        (6, "output_dir", "--output_dir below a file", below_file, E, ["--output_dir", "afile"]),
        (7, "output_dir", "--output_dir not writable (/sys/...)", not_writable, E, ["--output_dir", "/sys/keras_tna_run"]),
        (8, "output_dir", "--output_dir an existing file", is_file, E, ["--output_dir", "is a file"]),
        (9, "output_dir", "--output_dir a non-empty folder that is no run", not_a_run, E, ["--output_dir", "no keras_tna run"]),
        (10, "checkpoint", "--twin_checkpoint a garbage file", twin_garbage, E, ["garbage.keras", "not a .keras"]),
        (11, "checkpoint", "--twin_checkpoint truncated", twin_truncated, E, ["truncated.keras", "not a .keras"]),
        (12, "checkpoint", "--twin_checkpoint a directory", twin_dir, E, ["dir.keras", "directory"]),
        (13, "checkpoint", "--twin_checkpoint missing", twin_missing, E, ["missing.keras", "does not exist"]),
        (14, "checkpoint", "--twin_checkpoint a .h5 file", twin_h5, E, ["weights.h5", ".keras"]),
        (15, "checkpoint", "--twin_checkpoint of a network for 10 classes on 3", twin_other_classes, E, ["base.keras", "3 classes"]),
        (16, "run dir", "truncated weights in every checkpoint unit (resume)", truncated_weights, E, ["state.weights.h5 is not readable", "Delete", "--overwrite"]),
        (17, "run dir", "garbage progress.json in every checkpoint unit (resume)", garbage_progress, 0, ["Rebuilt", "Done"]),
        (18, "run dir", "empty progress.json in every checkpoint unit (resume)", empty_progress, 0, ["Rebuilt", "Done"]),
        (19, "run dir", "corrupt results.json of a finished run", corrupt_results, E, ["results.json", "--overwrite"]),
        (20, "run dir", "flags.txt with --epochs=abc", corrupt_flags, E, ["flags.txt", "--overwrite"]),
        (21, "run dir", "rerun into a run of another --model", other_model, E, ["model", "--overwrite"]),
        (22, "divergence", "alpha=1e12: diverges in the first epoch", diverge_first_epoch, 3, ["no epoch", "diverged"]),
        (23, "divergence", "a sweep with one diverging run", diverge_in_sweep, 3, ["diverged", "tna/seed_0"]),
        (24, "failed start", "frozen twin of 5 classes, then the corrected command", failed_start_twin, 0, ["Done"]),
        (25, "failed start", "batch too large, then the corrected command", failed_start_batch, 0, ["Done"]),
        (26, "multi-worker", "TF_CONFIG peer never starts, --peer_timeout_s=5", peer_never_starts, E, ["worker 1 at", "within 5 s (--peer_timeout_s)"]),
        (27, "multi-worker", "TF_CONFIG peer never starts, default timeout (cut at 60 s)", peer_never_starts_default, "waiting", ["waiting for worker 1"]),
        (28, "multi-worker", "SIGTERM while waiting for a peer", sigterm_while_waiting, E, ["SIGTERM"]),
        (29, "multi-worker", "--peer_timeout_s=0", peer_timeout_zero, E, ["peer_timeout_s", "> 0"]),
        (30, "multi-worker", "TF_CONFIG not JSON", tf_config_bad_json, E, ["TF_CONFIG"]),
        (31, "multi-worker", "--strategy=multi_worker without TF_CONFIG", no_tf_config, E, ["TF_CONFIG"]),
        (32, "flags", "--flagfile that does not exist", flag("--flagfile=configs/nope.flags"), E, ["nope.flags"]),
        (33, "flags", "--epochs=-1", flag("--epochs=-1"), E, ["epochs"]),
        (34, "flags", "a positional argument", flag("--smoke", "tna"), E, ["unexpected arguments"]),
        (35, "flags", "--learning_rate=nan", flag("--learning_rate=nan"), E, ["learning_rate"]),
        (36, "flags", "--dataset=cifar11", flag("--dataset=cifar11"), E, ["cifar11"]),
        (37, "flags", "--helpfull (responsiveness: under 2 s)", flag("--helpfull"), "fast", ["--batch_size"]),
        (38, "flags", "--epochs=0 (responsiveness: under 2 s)", flag("--epochs=0"), "fast error", ["epochs"]),
    ]


def judge(expect, phrases, rc, out, err, seconds=0.0):
    text = out + err
    if expect in ("fast", "fast error"):  # absl exits 1 after --helpfull too
        return rc == 1 and seconds < 2 and "Traceback" not in text and all(
            p.lower() in text.lower() for p in phrases)
    if "Traceback" in text:
        return False
    if expect == "waiting":  # cut off on purpose: must have said what it waits for
        return all(p.lower() in text.lower() for p in phrases)
    if expect == "error":
        if rc == 0 or not isinstance(rc, int):
            return False
        lines = [l for l in err.splitlines() if all(p.lower() in l.lower() for p in phrases)]
        return bool(lines)
    return rc == expect and all(p.lower() in text.lower() for p in phrases)


def first_error_line(rc, out, err):
    lines = [l for l in err.splitlines() if l.strip() and not l.startswith(("I0000", "W0000", "WARNING: All log"))]
    tb = sum(1 for l in lines if l.startswith("Traceback"))
    key = [l for l in lines if "error" in l.lower() or "train.py" in l or "Error" in l]
    line = (key[-1] if key else (lines[-1] if lines else (out.strip().splitlines() or [""])[-1]))
    if tb:
        line = f"Traceback [{len(lines)} lines] ... {line}"
    return line[:200]


def run(root, out_path, only=None):
    work = pathlib.Path(tempfile.mkdtemp(prefix="app_sweep_"))
    s = Sweep(root, work)
    records = []
    for case in cases(s):
        number, group, what, setup, expect, phrases = case
        if only and number not in only:
            continue
        made = setup()
        args, env = made[0], made[1]
        kwargs = made[2] if len(made) > 2 else {}
        if expect == "waiting":
            kwargs.setdefault("timeout", 60)
        rc, out, err, seconds = s.app(args, env=env, **kwargs)
        ok = judge(expect, phrases, rc, out, err, seconds)
        record = dict(number=number, group=group, input=what, rc=rc, ok=ok, seconds=seconds,
                      line=first_error_line(rc, out, err), stdout_tail=out[-600:], stderr_tail=err[-1500:])
        records.append(record)
        print(f"{number:3d} {'OK ' if ok else 'BAD'} rc={rc} {seconds:6.1f}s {what}: {record['line']}", flush=True)
        pathlib.Path(out_path).write_text(json.dumps(records, indent=1))
    shutil.rmtree(work, ignore_errors=True)


def table(old_path, new_path):
    old = {r["number"]: r for r in json.loads(pathlib.Path(old_path).read_text())}
    new = json.loads(pathlib.Path(new_path).read_text())
    print("| # | Group | Bad input | Before | Now |\n|---|---|---|---|---|")
    for r in new:
        o = old.get(r["number"])
        def cell(x):
            if x is None:
                return "not run"
            mark = "✅" if x["ok"] else "❌"
            return f"{mark} exit {x['rc']}, {x['seconds']:.0f} s: {x['line']}".replace("|", "\\|")
        print(f"| {r['number']} | {r['group']} | {r['input']} | {cell(o)} | {cell(r)} |")
    print(f"\nBefore: {sum(o['ok'] for o in old.values())}/{len(old)}. "
          f"Now: {sum(r['ok'] for r in new)}/{len(new)}.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parents[1]))
    parser.add_argument("--out")
    parser.add_argument("--only", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--table", nargs=2)
    args = parser.parse_args()
    if args.table:
        table(*args.table)
    else:
        run(args.root, args.out, args.only)
