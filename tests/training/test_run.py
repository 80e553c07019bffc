"""keras_tna.training.train: one run's artifacts, resume, refusals, methods, schedules."""

import csv
import json
import pathlib

import keras
import numpy as np
import pytest

from keras_tna import data as tna_data
from keras_tna import models as tna_models
from keras_tna import settings
from keras_tna import training
from keras_tna.runs import layout

from _smoke import smoke_config  # tests/_smoke.py

REPO = pathlib.Path(__file__).resolve().parents[2]


# `tna_smoke_run` (tests/conftest.py): the shared smoke run, trained once per session.


def test_smoke_run_writes_every_artifact(tna_smoke_run):
    config, results = tna_smoke_run
    out = pathlib.Path(config.output_dir)
    for name in ("flags.txt", "results.json", "history.csv", "base.keras",
                 "twin.keras"):
        assert (out / name).is_file(), name
    assert any((out / "tensorboard").rglob("events.out.tfevents.*"))
    assert (out / "checkpoints" / "epoch_0002" / "state.weights.h5").is_file()
    assert not (out / "run.lock").exists()  # released
    stored = json.loads((out / "results.json").read_text())
    assert stored == json.loads(json.dumps(results))
    # The keys runs/layout.py declares, in its order (a completed run has no message).
    assert list(stored) == list(layout.DESCRIPTION_KEYS + layout.OUTCOME_KEYS)
    assert stored["status"] == "completed"
    assert sorted(stored["versions"]) == sorted(layout.VERSION_KEYS)
    base = keras.models.load_model(out / "base.keras", compile=False)
    assert stored["params_base"] == base.count_params() == 76_234  # ConvNet, 1 channel
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert "val_base_accuracy" in rows[0] and "learning_rate" in rows[0]


def test_smoke_accuracies_match_the_saved_networks(tna_smoke_run):
    config, results = tna_smoke_run
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


def test_repeated_run_is_not_retrained(tna_smoke_run, capsys):
    config, results = tna_smoke_run
    out = pathlib.Path(config.output_dir)
    mtime = (out / "base.keras").stat().st_mtime_ns
    again = training.train(config.replace(verbose=1))  # verbosity may differ
    assert again == json.loads(json.dumps(results))
    assert (out / "base.keras").stat().st_mtime_ns == mtime
    assert "not retraining" in capsys.readouterr().out


def test_run_dir_with_other_flags_is_refused(tna_smoke_run):
    config, _ = tna_smoke_run
    with pytest.raises(ValueError, match=r"alpha \(there: 0.005, here: 0.01\).*--overwrite"):
        training.train(config.replace(alpha=0.01))


def test_non_run_dir_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds no keras_tna run"):
        training.train(smoke_config(tmp_path))
    with pytest.raises(ValueError, match="holds no keras_tna run"):
        training.train(smoke_config(tmp_path, overwrite=True))  # never deletes it
    assert (tmp_path / "notes.txt").read_text() == "mine"


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("simulated interruption")


def test_interrupted_run_resumes_to_the_uninterrupted_result(tna_smoke_run, tmp_path, capsys):
    config, full = tna_smoke_run  # the same run, not interrupted
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
    config = smoke_config(tmp_path, alpha=1e12, matching_start_epoch=1)
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
    results = training.train(smoke_config(tmp_path, method=method))
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
        smoke_config(tmp_path, strategy="mirrored", mixed_precision="mixed_bfloat16")
    )
    assert results["status"] == "completed"
    assert np.isfinite(results["base_loss"])
    base = keras.models.load_model(tmp_path / "base.keras", compile=False)
    assert base.get_layer("logits").compute_dtype == "float32"
    assert base.get_layer("block_1").compute_dtype == "bfloat16"
    # The global dtype policy is restored after the run.
    assert keras.config.dtype_policy().name == "float32"


# The smoke run's twin is barely trained: keras_tna warns it is near chance.
@pytest.mark.filterwarnings("ignore:freeze_twin=True but the frozen twin is at chance")
def test_frozen_twin_stays_frozen(tna_smoke_run, tmp_path):
    config, _ = tna_smoke_run
    checkpoint = f"{config.output_dir}/base.keras"
    results = training.train(
        smoke_config(tmp_path, method="frozen_twin", twin_checkpoint=checkpoint)
    )
    assert results["status"] == "completed"
    before = keras.models.load_model(checkpoint).get_weights()
    after = keras.models.load_model(tmp_path / "twin.keras").get_weights()
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x, y)


def test_frozen_twin_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        training.train(smoke_config(tmp_path / "a", method="frozen_twin",
                              twin_checkpoint=str(tmp_path / "missing.keras")))
    other = tna_models.build("convnet", 5, (32, 32, 1), seed=0)
    other.save(tmp_path / "five_classes.keras")
    with pytest.raises(ValueError, match=r"logits \(5,\).*10 classes"):
        training.train(smoke_config(tmp_path / "b", method="frozen_twin",
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
        training.train(smoke_config(tmp_path, **changes))
    assert not any(tmp_path.iterdir())


def test_cosine_schedule_with_warmup():
    schedule = training.learning_rate_schedule(
        0.1, steps_per_epoch=10, epochs=10, warmup_epochs=2
    )
    rates = [float(schedule(step)) for step in (0, 10, 20, 60, 100)]
    # Linear warm-up over 20 steps, then cosine over the other 80.
    expected = [0.0, 0.05, 0.1, 0.05 * (1 + np.cos(np.pi * 40 / 80)), 0.0]
    np.testing.assert_allclose(rates, expected, atol=1e-7)


