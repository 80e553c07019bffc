"""End-to-end tests of apps/cka.py, apps/probes.py, apps/robustness.py on smoke runs.

The runs are trained by keras_tna.training.train (what apps/train.py runs),
smoke-sized, on the bundled digits resized to 32x32; each app runs as a
subprocess and its JSON is checked against the library computed here.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from keras_tna import analysis
from keras_tna import training
from keras_tna.analysis import cka
from keras_tna.analysis import common
from keras_tna.analysis import run_data
from keras_tna.analysis import corruption_catalog as catalog
from keras_tna.runs import store

pytestmark = pytest.mark.large
APPS = pathlib.Path(__file__).resolve().parents[2] / "apps"


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    base = training.TrainConfig(
        dataset="digits", image_size=32, model="convnet", learning_rate=0.01,
        smoke=True, verbose=0, output_dir=str(root),
    )
    training.sweep(base, methods=["single", "tna"], seeds=[0, 1])
    return root


def run_app(name, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, str(APPS / name), *args], capture_output=True, text=True, env=env, timeout=600
    )


def check_png(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cka_app(runs_dir, tmp_path):
    proc = run_app("cka.py", f"--runs={runs_dir}", f"--output_dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads((tmp_path / "cka.json").read_text())
    pairs = out["pairs"]
    # single s0/s1; tna s0 x single s1 and tna s1 x single s0; base/twin of each tna run.
    assert sorted(pairs) == ["Base vs Twin", "Single vs Single", "TNA vs Single"]
    assert [len(pairs[k]) for k in ("Single vs Single", "TNA vs Single", "Base vs Twin")] == [1, 2, 2]
    assert out["layers"] == [f"block_{i}" for i in range(1, 7)] + ["logits"]
    assert out["num_examples"] == 360  # the whole digits test set
    # The app's Base vs Twin matrix of tna seed 0 equals the library's.
    run = analysis.read_run(runs_dir / "tna" / "seed_0")
    bundle = run_data.load_run_dataset(run)
    images, labels = run_data.load_run_test_set(run)
    expected = cka.compare_networks(
        run.load_base(), run.load_twin(), run_data.NormalizedBatches(images, labels, bundle.normalize)
    )
    got = [p for p in pairs["Base vs Twin"] if p["pair"].startswith("tna s0")][0]["matrix"]
    np.testing.assert_allclose(got, expected.matrix, atol=1e-5)
    table = (tmp_path / "cka.md").read_text()
    assert "| Block 1 |" in table and "| FC |" in table and "python" in table
    check_png(tmp_path / "cka_heatmaps.png")
    check_png(tmp_path / "cka_blocks.png")


def test_probes_app(runs_dir, tmp_path):
    proc = run_app(
        "probes.py", f"--runs={runs_dir}/single", f"--output_dir={tmp_path}",
        "--epochs=2", "--max_train_examples=300", "--max_examples=200",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads((tmp_path / "probes.json").read_text())
    assert (out["num_train"], out["num_test"]) == (300, 200)
    accuracy = out["accuracy"]["Single"]
    assert sorted(accuracy) == [f"block_{i}" for i in range(1, 7)]
    assert all(len(v) == 2 for v in accuracy.values())  # two seeds
    assert "| Block 6 |" in (tmp_path / "probes.md").read_text()
    check_png(tmp_path / "probes.png")


def test_robustness_app_generated(runs_dir, tmp_path):
    cache = tmp_path / "cache"
    proc = run_app(
        "robustness.py", f"--runs={runs_dir}", f"--output_dir={tmp_path}",
        "--corruptions=contrast,elastic", "--severities=2",
        f"--cache_dir={cache}", "--num_workers=1", "--max_examples=60",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads((tmp_path / "robustness.json").read_text())
    assert out["kind"] == "generated" and out["num_examples"] == 60
    assert sorted(out["results"]) == ["Single", "TNA"]
    cached = sorted(p.name for p in cache.rglob("*.npy"))
    assert cached == ["contrast_2_seed0_n60.npy", "elastic_transform_2_seed0_n60.npy"]
    # Re-evaluate one network on the cached images in-process.
    run = analysis.read_run(runs_dir / "tna" / "seed_1")
    bundle = run_data.load_run_dataset(run)
    images, labels = run_data.load_run_test_set(run, 60)
    corrupted = np.load(next(cache.rglob("elastic_transform_2_seed0_n60.npy")))
    np.testing.assert_array_equal(corrupted, catalog.corrupt_images(images, "elastic", 2, seed=0))
    logits = run.load_base().predict(bundle.normalize(corrupted), verbose=0)
    expected = float(np.mean(np.argmax(logits, -1) == labels))
    entry = [r for r in out["results"]["TNA"] if r["seed"] == 1][0]
    assert entry["scores"]["elastic_transform_2"] == pytest.approx(expected)
    table = (tmp_path / "robustness.md").read_text()
    assert "Generated corruptions" in table and "mCE, normalised by Single" in table
    assert "| Elastic Transform |" in table and "**None** (clean)" in table
    check_png(tmp_path / "robustness.png")


def test_apps_reject_bad_input(runs_dir, tmp_path):
    other = tmp_path / "other_dataset"
    shutil.copytree(runs_dir / "single" / "seed_0", other)
    results = json.loads((other / "results.json").read_text())
    results["dataset"] = "cifar10"
    (other / "results.json").write_text(json.dumps(results))
    proc = run_app("cka.py", f"--runs={runs_dir}/single,{other}", f"--output_dir={tmp_path}")
    assert proc.returncode != 0 and "different datasets" in proc.stderr
    assert "Traceback" not in proc.stderr
    # The same checks in-process (each app calls them before any work).
    runs, _ = store.find_runs([runs_dir / "tna", other])
    with pytest.raises(ValueError, match="different datasets"):
        run_data.check_same_dataset(runs)
    (other / "base.keras").write_text("not a network")
    with pytest.raises(ValueError, match="is not a network this package can read"):
        analysis.read_run(other).load_base()
    with pytest.raises(FileNotFoundError, match="no results.json"):
        analysis.read_run(runs_dir / "tna")
    model = analysis.read_run(runs_dir / "tna" / "seed_0").load_twin()
    with pytest.raises(ValueError, match=r"\['nope'\] are not in model"):
        common.resolve_layer_names(model, ["block_1", "nope"])


def test_find_runs_skips_diverged_runs(runs_dir, tmp_path):
    root = tmp_path / "sweep"
    shutil.copytree(runs_dir / "single", root / "single")
    diverged = root / "single" / "seed_1"
    results = json.loads((diverged / "results.json").read_text())
    results["status"] = "diverged"
    (diverged / "results.json").write_text(json.dumps(results))
    (diverged / "base.keras").unlink()  # a diverged run may save no network
    runs, skipped = store.find_runs(root)
    assert [r.seed for r in runs] == [0] and [r.seed for r in skipped] == [1]
    with pytest.raises(FileNotFoundError, match="all 1 found diverged"):
        store.find_runs(diverged)
