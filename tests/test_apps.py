"""Tests of apps/train.py, its flags and configs, keras_tna.training and reporting."""

import csv
import importlib.util
import json
import math
import os
import pathlib
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
from absl import flags as absl_flags

from keras_tna import data as tna_data
from keras_tna import models as tna_models
from keras_tna import reporting
from keras_tna import settings
from keras_tna import training
from keras_tna.cli import train_flags as app_flags
from keras_tna.data import registry as data_registry

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").rglob("*.flags"))
FLAGS = absl_flags.FLAGS


def _parse(*args):
    FLAGS.unparse_flags()
    FLAGS(["train.py", *args])
    return app_flags.config_from_flags(), app_flags.sweep_from_flags()


@pytest.fixture(autouse=True)
def _reset_flags():
    yield
    FLAGS.unparse_flags()


def _smoke(output_dir, **changes):
    settings = dict(
        dataset="digits",
        image_size=32,
        method="tna",
        smoke=True,
        verbose=0,
        learning_rate=0.01,
        output_dir=str(output_dir),
    )
    settings.update(changes)
    return training.TrainConfig(**settings)


# ---------------------------------------------------------------- configs
def test_every_paper_table_has_configs():
    names = {p.relative_to(REPO / "configs").as_posix() for p in CONFIGS}
    counts = {
        group: sum(n.startswith(group + "/") for n in names)
        for group in ("table1", "table2", "table3", "table4", "table7", "table8",
                      "fig4", "fig5", "quickstart", "sec4_2")
    }
    assert counts == {
        "table1": 11, "table2": 4, "table3": 2, "table4": 4, "table7": 3,
        "table8": 9, "fig4": 2, "fig5": 1, "quickstart": 1, "sec4_2": 6,
    }


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_flagfile_loads_and_every_name_resolves(path):
    text = path.read_text()
    relative = path.relative_to(REPO).as_posix()
    header = "".join(line for line in text.splitlines(True) if line.startswith("#"))
    assert f"--flagfile={relative}" in header  # the command
    assert "Table" in header or "Fig." in header
    assert "paper figure" in header.lower()
    named = re.findall(r"(?:docs|configs)/[\w./-]*\w", header)  # files the header points to
    assert all((REPO / name).exists() for name in named), [
        name for name in named if not (REPO / name).exists()]
    config, sweep = _parse(f"--flagfile={path}")
    assert config.model in tna_models.available()
    if config.twin_model is not None:
        assert config.twin_model in tna_models.available()
    data_registry.resolve(config.dataset)
    runs = (
        training.sweep_configs(config, **sweep) if sweep is not None else [config]
    )
    for run in runs:
        if run.method == "frozen_twin":
            # The twin is the base.keras of the pretraining config beside it.
            pretrain, _ = _parse(
                f"--flagfile={path.parent / 'resnet18_tinyimagenet_pretrain_twin.flags'}"
            )
            assert run.twin_checkpoint == f"{pretrain.output_dir}/base.keras"
            with pytest.raises(FileNotFoundError, match="train the twin first"):
                run.validate()
            run = run.replace(method="tna")
        run.validate()


def test_flagfile_overrides_and_sweep_expansion():
    path = REPO / "configs" / "table7" / "resnet18_cifar10.flags"
    config, sweep = _parse(f"--flagfile={path}", "--epochs=3", "--seeds=5")
    assert config.epochs == 3
    runs = training.sweep_configs(config, **sweep)
    assert [r.alpha for r in runs] == [0.0, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 1e-1]
    assert runs[3].output_dir == "runs/table7/resnet18_cifar10/tna_alpha0.001/seed_5"
    # A single run is not repeated per alpha; runs are ordered seed by seed.
    runs = training.sweep_configs(
        config, methods=["single", "tna"], seeds=[0, 1], alphas=[0.0, 0.01]
    )
    assert [(r.method, r.seed, r.alpha) for r in runs] == [
        ("single", 0, config.alpha), ("tna", 0, 0.0), ("tna", 0, 0.01),
        ("single", 1, config.alpha), ("tna", 1, 0.0), ("tna", 1, 0.01),
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model=resnet1000"], "Unknown network 'resnet1000'"),
        (["--dataset=cifar11"], "Unknown dataset 'cifar11'"),
        (["--method=boosting"], "`method` must be one of"),
        (["--kernel_initializer=zeroish"], "Unknown kernel initializer"),
        (["--methods=single,boosting"], "Unknown method"),
        (["--alpha=-1"], "alpha"),
        (["--seeds=0,x"], "comma-separated list of ints"),
        (["--warmup_epochs=5", "--epochs=5"], "warmup_epochs must be smaller"),
        (["--method=frozen_twin"], "needs --twin_checkpoint"),
        (["--flagfile=configs/nope.flags"], "nope.flags"),
    ],
)
def test_bad_flags_fail_at_parse_time(args, message):
    with pytest.raises(absl_flags.Error, match=message):
        _parse(*args)


def test_cli_bad_flag_is_one_line_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "apps/train.py", "--model=resnet1000",
         f"--output_dir={tmp_path}"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "resnet1000" in line]
    assert len(errors) == 1 and "Flags parsing error" in errors[0]
    assert not any(tmp_path.iterdir())  # nothing was started


@pytest.mark.large
def test_training_imports_and_checks_configs_without_tensorflow(run_python):
    """`keras_tna.training` and `keras_tna.runs` import with TensorFlow blocked."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("needs jax: the TensorFlow backend imports TensorFlow")
    result = run_python(
        "import sys\n"
        "sys.modules['tensorflow'] = None\n"
        "from keras_tna import runs, training\n"
        "config = training.TrainConfig(dataset='digits', image_size=32).validate()\n"
        "print(config.method_spec.effective_alpha(config),\n"
        "      training.make_optimizer('sgd', 0.1, 10, 2))\n",
        backend="jax",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1].startswith("0.005 ")


# ---------------------------------------------------------------- training
@pytest.fixture(scope="module")
def tna_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tna_run")
    config = _smoke(out, deterministic=True)
    return config, training.train(config)


def test_smoke_run_writes_every_artifact(tna_run):
    config, results = tna_run
    out = pathlib.Path(config.output_dir)
    for name in ("flags.txt", "results.json", "history.csv", "base.keras",
                 "twin.keras"):
        assert (out / name).is_file(), name
    assert any((out / "tensorboard").rglob("events.out.tfevents.*"))
    assert (out / "checkpoints" / "epoch_0002" / "state.weights.h5").is_file()
    assert not (out / "run.lock").exists()  # released
    stored = json.loads((out / "results.json").read_text())
    assert stored == json.loads(json.dumps(results))
    for key in ("method", "model", "twin_model", "dataset", "seed", "alpha",
                "epochs", "base_accuracy", "twin_accuracy", "ensemble_accuracy",
                "base_loss", "params_base", "params_twin", "wall_time_s",
                "versions", "flags", "status"):
        assert key in stored, key
    assert stored["status"] == "completed"
    assert set(stored["versions"]) >= {"python", "tensorflow", "keras", "keras_tna"}
    base = keras.models.load_model(out / "base.keras", compile=False)
    assert stored["params_base"] == base.count_params() == 76_234  # ConvNet, 1 channel
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert "val_base_accuracy" in rows[0] and "learning_rate" in rows[0]


def test_smoke_accuracies_match_the_saved_networks(tna_run):
    config, results = tna_run
    out = pathlib.Path(config.output_dir)
    bundle = tna_data.load("digits", batch_size=settings.SMOKE_BATCH_SIZE,
                           seed=config.seed, image_size=32)
    x, y = [], []
    for images, labels in bundle.test.take(settings.SMOKE_STEPS):
        x.append(images.numpy())
        y.append(labels.numpy())
    x, y = np.concatenate(x), np.concatenate(y)
    base = keras.models.load_model(out / "base.keras", compile=False)
    twin = keras.models.load_model(out / "twin.keras", compile=False)
    base_logits = base.predict(x, verbose=0)
    twin_logits = twin.predict(x, verbose=0)
    assert results["base_accuracy"] == pytest.approx(np.mean(base_logits.argmax(-1) == y))
    assert results["twin_accuracy"] == pytest.approx(np.mean(twin_logits.argmax(-1) == y))
    assert results["ensemble_accuracy"] == pytest.approx(
        np.mean((base_logits + twin_logits).argmax(-1) == y)
    )


def test_flags_txt_reruns_the_same_run(tna_run):
    config, _ = tna_run
    rerun, sweep = _parse(f"--flagfile={config.output_dir}/flags.txt")
    assert sweep is None
    assert rerun == config


def test_repeated_run_is_not_retrained(tna_run, capsys):
    config, results = tna_run
    out = pathlib.Path(config.output_dir)
    mtime = (out / "base.keras").stat().st_mtime_ns
    again = training.train(config.replace(verbose=1))  # verbosity may differ
    assert again == json.loads(json.dumps(results))
    assert (out / "base.keras").stat().st_mtime_ns == mtime
    assert "not retraining" in capsys.readouterr().out


def test_run_dir_with_other_flags_is_refused(tna_run):
    config, _ = tna_run
    with pytest.raises(ValueError, match=r"alpha \(there: 0.005, here: 0.01\).*--overwrite"):
        training.train(config.replace(alpha=0.01))


def test_non_run_dir_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds no keras_tna run"):
        training.train(_smoke(tmp_path))
    with pytest.raises(ValueError, match="holds no keras_tna run"):
        training.train(_smoke(tmp_path, overwrite=True))  # never deletes it
    assert (tmp_path / "notes.txt").read_text() == "mine"


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("simulated interruption")


def test_interrupted_run_resumes_to_the_uninterrupted_result(tna_run, tmp_path, capsys):
    config, full = tna_run  # the same run, not interrupted
    interrupted = config.replace(output_dir=str(tmp_path / "cut"))
    with pytest.raises(KeyboardInterrupt):
        training.train(interrupted, callbacks=[_Interrupt()])
    assert not (tmp_path / "cut" / "results.json").exists()
    resumed = training.train(interrupted)
    assert "Resuming from the checkpoint after epoch 1" in capsys.readouterr().out
    with open(tmp_path / "cut" / "history.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [0, 1]
    for name in ("base.keras", "twin.keras"):
        a = keras.models.load_model(pathlib.Path(config.output_dir) / name).get_weights()
        b = keras.models.load_model(tmp_path / "cut" / name).get_weights()
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert resumed["base_loss"] == full["base_loss"]


def test_divergence_stops_early_and_keeps_the_last_good_epoch(tmp_path):
    # No matching in epoch 0 (fine), alpha 1e12 from epoch 1: loss -> inf/NaN.
    config = _smoke(tmp_path, alpha=1e12, matching_start_epoch=1)
    results = training.train(config)
    assert results["status"] == "diverged"
    assert "diverged" in results["message"] and "epoch 2" in results["message"]
    assert results["last_good_epoch"] == 1 and results["base_accuracy"] is None
    assert not (tmp_path / "base.keras").exists()
    unit = tmp_path / "checkpoints" / "epoch_0001"
    assert json.loads((unit / "progress.json").read_text())["epoch"] == 1
    assert not (tmp_path / "checkpoints" / "epoch_0002").exists()
    import h5py

    with h5py.File(unit / "state.weights.h5") as f:
        arrays = []
        f.visititems(
            lambda _, obj: arrays.append(obj[()]) if isinstance(obj, h5py.Dataset) else None
        )
    assert arrays and all(np.all(np.isfinite(a)) for a in arrays)
    # Repeating the command reports the divergence instead of retraining.
    assert training.train(config)["status"] == "diverged"


@pytest.mark.parametrize(
    "method",
    ["single", pytest.param("dml", marks=pytest.mark.large),
     pytest.param("ensemble", marks=pytest.mark.large)],
)
def test_other_methods(tmp_path, method):
    results = training.train(_smoke(tmp_path, method=method))
    assert results["status"] == "completed"
    if method == "single":
        assert results["twin_accuracy"] is None and results["params_twin"] is None
        assert not (tmp_path / "twin.keras").exists()
    else:
        assert results["alpha"] == (1.0 if method == "dml" else 0.0)
        assert 0.0 <= results["ensemble_accuracy"] <= 1.0


@pytest.mark.large
def test_mirrored_strategy_and_mixed_precision_run(tmp_path):
    results = training.train(
        _smoke(tmp_path, strategy="mirrored", mixed_precision="mixed_bfloat16")
    )
    assert results["status"] == "completed"
    assert np.isfinite(results["base_loss"])
    base = keras.models.load_model(tmp_path / "base.keras", compile=False)
    assert base.get_layer("logits").compute_dtype == "float32"
    assert base.get_layer("block_1").compute_dtype == "bfloat16"
    # The global dtype policy is restored after the run.
    assert keras.config.dtype_policy().name == "float32"


def test_frozen_twin_stays_frozen(tna_run, tmp_path):
    config, _ = tna_run
    checkpoint = f"{config.output_dir}/base.keras"
    results = training.train(
        _smoke(tmp_path, method="frozen_twin", twin_checkpoint=checkpoint)
    )
    assert results["status"] == "completed"
    before = keras.models.load_model(checkpoint).get_weights()
    after = keras.models.load_model(tmp_path / "twin.keras").get_weights()
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x, y)


def test_frozen_twin_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        training.train(_smoke(tmp_path / "a", method="frozen_twin",
                              twin_checkpoint=str(tmp_path / "missing.keras")))
    other = tna_models.build("convnet", 5, (32, 32, 1), seed=0)
    other.save(tmp_path / "five_classes.keras")
    with pytest.raises(ValueError, match=r"logits \(5,\).*10 classes"):
        training.train(_smoke(tmp_path / "b", method="frozen_twin",
                              twin_checkpoint=str(tmp_path / "five_classes.keras")))


@pytest.mark.parametrize(
    "changes, error, message",
    [
        ({"method": "boost"}, ValueError, "`method` must be one of"),
        ({"model": "resnet1000"}, ValueError, "Unknown network"),
        ({"dataset": "cifar11"}, ValueError, "Unknown dataset"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate"),
        ({"strategy": "tpu"}, ValueError, "TPU"),  # this machine has none
        ({"strategy": "multi_worker"}, ValueError, "TF_CONFIG"),
    ],
)
def test_library_rejects_bad_configs(tmp_path, changes, error, message):
    with pytest.raises(error, match=message):
        training.train(_smoke(tmp_path, **changes))
    assert not any(tmp_path.iterdir())


def test_cosine_schedule_with_warmup():
    schedule = training.learning_rate_schedule(
        0.1, steps_per_epoch=10, epochs=10, warmup_epochs=2
    )
    rates = [float(schedule(step)) for step in (0, 10, 20, 60, 100)]
    # Linear warm-up over 20 steps, then cosine over the other 80.
    expected = [0.0, 0.05, 0.1, 0.05 * (1 + np.cos(np.pi * 40 / 80)), 0.0]
    np.testing.assert_allclose(rates, expected, atol=1e-7)


# ---------------------------------------------------------------- reporting
def _fake_run(root, method, seed, accuracy, alpha=None, status="completed", curve=()):
    run = root / f"{method}_{alpha}" / f"seed_{seed}"
    run.mkdir(parents=True)
    results = {
        "method": method, "model": "convnet", "twin_model": None if method == "single" else "convnet",
        "dataset": "cifar10", "seed": seed, "alpha": alpha, "epochs": 3,
        "learning_rate": 0.1, "matching_start_epoch": 0 if alpha is not None else None,
        "base_accuracy": accuracy if status == "completed" else None,
        "twin_accuracy": None if method == "single" or status != "completed" else accuracy - 0.01,
        "ensemble_accuracy": None if method == "single" or status != "completed" else accuracy + 0.02,
        "status": status,
    }
    (run / "results.json").write_text(json.dumps(results))
    with open(run / "history.csv", "w") as f:
        f.write("epoch,val_base_accuracy,val_matching_loss\n")
        for epoch, value in enumerate(curve):
            f.write(f"{epoch},{value},1.0\n")


def test_report_mean_std_and_gain_by_hand(tmp_path):
    # Single peaks one point above its last epoch, at epoch 2.
    for seed, acc in enumerate([0.80, 0.82, 0.84]):
        _fake_run(tmp_path, "single", seed, acc, curve=(0.5, acc + 0.01, acc))
    for seed, acc in enumerate([0.85, 0.86, 0.87]):
        _fake_run(tmp_path, "tna", seed, acc, alpha=0.005, curve=(0.5, 0.75, acc))
    _fake_run(tmp_path, "tna", 0, 0.70, alpha=0.0)
    _fake_run(tmp_path, "tna", 0, None, alpha=0.1, status="diverged")
    out = reporting.report([tmp_path], output_dir=tmp_path / "report", echo=False)
    markdown = out["markdown"]
    # Single: mean 82, sample std sqrt(((-2)^2 + 0 + 2^2) / 2) = 2.
    assert "82.00 ± 2.00% (n=3)" in markdown
    # TNA alpha 5e-3: mean 86, std 1; gain +4 points, Welch t = 4 / sqrt(4/3 + 1/3)
    # with Welch-Satterthwaite df = (5/3)^2 / ((4/3)^2 / 2 + (1/3)^2 / 2); the
    # two-sided p integrates Student's t density numerically (no scipy).
    assert "86.00 ± 1.00% (n=3)" in markdown
    t = 4 / np.sqrt(5 / 3)
    df = (5 / 3) ** 2 / ((4 / 3) ** 2 / 2 + (1 / 3) ** 2 / 2)
    x = np.linspace(t, 2000.0, 4_000_001)
    density = (
        math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
        * (1 + x**2 / df) ** (-(df + 1) / 2)
    )
    p_value = 2 * np.trapezoid(density, x)
    assert f"+4.00 (t={t:.2f}, p={p_value:.3g})" in markdown
    assert "+4.00 (t=3.10, p=0.0548)" in markdown
    # Best epoch: the single runs' best (epoch 2) is one point above the last.
    best = markdown[markdown.index("best epoch"):]
    assert "83.00 ± 2.00% (n=3)" in best
    assert "+3.00 (t=2.32, p=0.104)" in best
    # One sentence per variant says what the last-epoch numbers mean.
    assert (
        "TNA (α=0.005) vs Single +4.00 points (p=0.055, n=3 vs 3): no "
        "significant difference at the 5% level." in markdown
    )
    assert "TNA (α=0) vs Single -12.00 points (n=1 vs 3): too few runs" in markdown
    # Every run is listed with its last and best accuracy.
    runs = markdown[markdown.index("Every run"):]
    assert "| 81.00 (epoch 2) |" in runs
    # Ensemble of base and twin: every TNA seed + 2 points -> 88 ± 1.
    assert "88.00 ± 1.00% (n=3)" in markdown
    # Alpha table: alpha 0.1 diverged.
    alpha_table = markdown[markdown.index("against alpha"):]
    assert "α=0.1" in alpha_table and "–" in alpha_table
    with open(tmp_path / "report" / "report.csv") as f:
        records = list(csv.DictReader(f))
    tna = [r for r in records if r["variant"] == "TNA (α=0.005)" and r["metric"] == "base_accuracy"]
    assert len(tna) == 1
    assert float(tna[0]["mean_percent"]) == pytest.approx(86.0)
    assert float(tna[0]["gain_vs_single_points"]) == pytest.approx(4.0)
    assert float(tna[0]["welch_p"]) == pytest.approx(p_value, rel=1e-3)
    for name in ("report_curves.png", "report_alpha.png"):
        assert (tmp_path / "report" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _png_size(path):
    header = pathlib.Path(path).read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_report_late_matching_curves_add_the_matching_loss_row(tmp_path):
    for start in (0, 1):
        run = tmp_path / f"start{start}"
        run.mkdir()
        (run / "results.json").write_text(json.dumps({
            "method": "tna", "model": "convnet", "twin_model": "convnet",
            "dataset": "digits", "seed": 0, "alpha": 0.005, "epochs": 3,
            "learning_rate": 0.1, "matching_start_epoch": start,
            "base_accuracy": 0.9, "twin_accuracy": 0.9, "ensemble_accuracy": 0.9,
            "status": "completed",
        }))
        (run / "history.csv").write_text(
            "epoch,val_base_accuracy,val_twin_accuracy,val_matching_loss\n"
            "0,0.5,0.5,9\n1,0.7,0.7,4\n2,0.9,0.9,1\n"
        )
    out = reporting.report([tmp_path], output_dir=tmp_path / "r", echo=False)
    assert "TNA (start 0)" in out["markdown"] and "TNA (start 1)" in out["markdown"]
    # One panel per setting: accuracy above, matching loss below (Fig. 5).
    assert _png_size(tmp_path / "r" / "report_curves.png") == (720, 960)
    one_row = reporting.plot_curves(
        reporting.collect([tmp_path / "start0"]), tmp_path / "one.png"
    )
    assert _png_size(one_row) == (720, 480)


def test_report_without_results_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="No results.json"):
        reporting.collect([tmp_path])


@pytest.mark.large
@pytest.mark.parametrize("app, own_flag", [
    ("report.py", "--[no]plots"),           # its own flag
    ("compute_report.py", "--num_classes"),
    ("probes.py", "--probe_batch_size"),
])
def test_help_lists_the_programs_flags(app, own_flag):
    """absl's --help lists only __main__'s flags; the apps define none there."""
    done = subprocess.run([sys.executable, f"apps/{app}", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    flag_lines = [line.split(":")[0].strip() for line in done.stdout.splitlines()
                  if line.startswith("  --")]
    assert own_flag in flag_lines, done.stdout[-2000:]
    assert "--runs" in flag_lines and "--output_dir" in flag_lines  # the shared flags


@pytest.mark.large
def test_main_job_command_smoke(tmp_path):
    command = [
        sys.executable, "apps/train.py",
        "--flagfile=configs/quickstart/digits.flags",
        "--smoke", "--seeds=0", f"--output_dir={tmp_path}",
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                           timeout=300, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "Gain TNA" in first.stdout
    assert (tmp_path / "report.md").is_file()
    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                            timeout=300, env=env)
    assert second.returncode == 0
    assert second.stdout.count("not retraining") == 2
