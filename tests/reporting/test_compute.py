"""The compute-matched table (`keras_tna.reporting.compute`) on hand-made runs."""

import csv
import json
import math
import pathlib

import pytest

from keras_tna.reporting import collect
from keras_tna.reporting import compute

RESULTS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "results"
REPORT = RESULTS / "compute_matched_convnet_cifar10"


def _run(method, seed, value, epochs=20, width=None, status="completed"):
    args = "" if width is None else json.dumps({"width": width})
    metric = "ensemble_accuracy" if method == "ensemble" else "base_accuracy"
    result = {
        "method": method, "model": "convnet", "dataset": "folder:cifar10-jpeg",
        "seed": seed, "epochs": epochs,
        "status": status, "base_accuracy": None, "ensemble_accuracy": None,
        "wall_time_s": 60.0, "flags": {"network_args": args},
    }
    if status == "completed":
        result[metric] = value
        if method == "ensemble":
            result["base_accuracy"] = value - 0.05
    return result


RUNS = (
    [_run("single", s, v) for s, v in enumerate([0.70, 0.72, 0.74])]
    + [_run("tna", s, v) for s, v in enumerate([0.73, 0.74, 0.78])]
    + [_run("single", s, v, epochs=40) for s, v in enumerate([0.75, 0.76, 0.77])]
    + [_run("single", s, v, width=2.0) for s, v in enumerate([0.74, 0.70])]
    + [_run("ensemble", 0, 0.80), _run("ensemble", 1, None, status="diverged"),
       _run("ensemble", 2, 0.78)]
)


def _macs(model, network_args):
    assert model == "convnet"
    return {1.0: 100, 2.0: 300}[network_args.get("width", 1.0)]


@pytest.fixture
def table():
    return compute.compute_table(RUNS, _macs)


def test_rows_in_order_with_their_metric(table):
    assert [r[0] for r in table.rows] == [
        "Single, 20 ep", "TNA, 20 ep", "Single, 40 ep", "Wide ×2 Single, 20 ep",
        "Ensemble of 2 singles, 20 ep",
    ]
    records = {r["row"]: r for r in table.records}
    assert records["Single, 20 ep"]["mean"] == pytest.approx(72.0)
    assert records["Single, 20 ep"]["std"] == pytest.approx(2.0)
    # The ensemble row reads ensemble_accuracy (not the base's), and counts
    # the diverged seed without averaging it.
    ensemble = records["Ensemble of 2 singles, 20 ep"]
    assert (ensemble["mean"], ensemble["n"], ensemble["diverged"]) == (
        pytest.approx(79.0), 2, 1)
    assert "1 diverged" in table.rows[4][1]


def test_compute_columns_relative_to_single_20(table):
    got = {r["row"]: (r["train_network_epochs"], r["train_macs_rel"],
                      r["inference_macs_rel"]) for r in table.records}
    assert got == {
        "Single, 20 ep": (20, 1.0, 1.0),
        "TNA, 20 ep": (40, 2.0, 1.0),            # two networks trained, base kept
        "Single, 40 ep": (40, 2.0, 1.0),
        "Wide ×2 Single, 20 ep": (20, 3.0, 3.0),  # 300 MACs vs 100
        "Ensemble of 2 singles, 20 ep": (40, 2.0, 2.0),
    }


def test_paired_difference_by_hand(table):
    rows = compute.rows_of(RUNS)
    single, tna, longer, wide = rows[:4]
    # TNA - Single per seed: +3, +2, +4 points: mean 3, std 1, t = 3 / (1 / sqrt 3);
    # with 2 degrees of freedom the two-sided p is 1 - t / sqrt(t^2 + 2).
    mean, std, n, p = compute.paired(tna, single)
    t = 3.0 * math.sqrt(3.0)
    assert (mean, std, n) == (pytest.approx(3.0), pytest.approx(1.0), 3)
    assert p == pytest.approx(1.0 - t / math.sqrt(t * t + 2.0))
    # A wider network starts from another initialisation: no pairing.
    assert compute.paired(wide, single) is None
    assert compute.paired(longer, single)[0] == pytest.approx(4.0)
    assert "paired +3.00 ± 1.00 (n=3" in table.rows[1][2]
    assert "paired" not in table.rows[3][2]


def test_verdicts_name_each_row_against_tna(table):
    lines = compute.verdicts(table)
    assert len(lines) == 4  # every row but TNA itself
    assert lines[1].startswith("Single, 40 ep vs TNA, 20 ep: +1.00")
    assert "no significant difference" in lines[1]


def test_no_single_runs_is_one_line():
    with pytest.raises(ValueError, match="needs single-network runs"):
        compute.compute_table([_run("tna", 0, 0.7)], _macs)


def test_plot_written(table, tmp_path):
    path = compute.plot_compute(table, tmp_path / "c.png")
    assert path.stat().st_size > 1000


def test_interrupted_plot_keeps_the_old_file(table, tmp_path, monkeypatch):
    from keras_tna.runs import atomic

    path = tmp_path / "c.png"
    path.write_bytes(b"the old plot")

    def kill_after_the_write(event, at):
        if event == "written":
            raise KeyboardInterrupt

    monkeypatch.setattr(atomic, "fault_hook", kill_after_the_write)
    with pytest.raises(KeyboardInterrupt):
        compute.plot_compute(table, path)
    assert path.read_bytes() == b"the old plot"
    assert [p.name for p in tmp_path.iterdir()] == ["c.png"]  # no temporary file left


@pytest.mark.large
def test_app_writes_the_report(tmp_path):
    import pathlib
    import subprocess
    import sys

    runs = tmp_path / "runs"
    for i, result in enumerate(RUNS[:6]):
        (runs / f"r{i}").mkdir(parents=True)
        (runs / f"r{i}" / "results.json").write_text(json.dumps(result))
    repo = pathlib.Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(repo / "apps" / "compute_report.py"), f"--runs={runs}",
         f"--output_dir={tmp_path / 'out'}"],
        capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(repo)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "cuInit" not in done.stderr  # TensorFlow's start-up noise is dropped
    text = (tmp_path / "out" / "report.md").read_text()
    # The real ConvNet's MACs: TNA trains 2x, Single 40 2x, both keep 1x.
    assert "| TNA, 20 ep | 75.00 ± 2.65% (n=3) |" in text
    assert "| 40 (2.00x) | 2.00x | 1.00x |" in text
    assert (tmp_path / "out" / "report_compute.png").stat().st_size > 1000
    with open(tmp_path / "out" / "report.csv", newline="") as f:
        records = {r["row"]: r for r in csv.DictReader(f)}
    assert records["TNA, 20 ep"]["n"] == "3"
    assert float(records["TNA, 20 ep"]["mean"]) == pytest.approx(75.0)
    assert records["TNA, 20 ep"]["accuracies"] == "73.00;74.00;78.00"  # each seed, for the plot


@pytest.mark.large
def test_committed_report_and_results_page_match_the_committed_runs():
    """The committed report is what the app makes of the committed runs now,
    and the results page quotes its table unchanged (no drifting copy)."""
    # The n = 3 report: issue 23's seeds (issue 33's 4 and 5 are not in it).
    results = collect([RESULTS / "table1_convnet_cifar10_20ep" / "runs", REPORT / "runs"],
                      seeds=[0, 1, 2, 3])
    made = compute.report(results, compute.macs_counter(10, (32, 32, 3)))
    table, markdown = made.table, made.markdown
    regenerate = ("regenerate it: python apps/compute_report.py --runs="
                  "docs/results/table1_convnet_cifar10_20ep/runs,"
                  "docs/results/compute_matched_convnet_cifar10/runs "
                  "--output_dir=docs/results/compute_matched_convnet_cifar10 --seeds=0,1,2,3")
    assert (REPORT / "report.md").read_text() == markdown, regenerate
    page = (RESULTS / "compute_matched_convnet_cifar10.md").read_text().splitlines()
    lines = [line for line in table.markdown().splitlines() if line.startswith("|")]
    assert len(lines) == 2 + len(table.rows)
    missing = [line for line in lines if line not in page]
    assert not missing, f"the results page's table differs from report.md: {missing}"
