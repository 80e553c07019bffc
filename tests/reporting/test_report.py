"""keras_tna.reporting.report: the paper's tables, verdicts and plots from runs."""

import csv
import json
import math
import pathlib

import numpy as np
import pytest

from keras_tna import reporting

REPO = pathlib.Path(__file__).resolve().parents[2]


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


