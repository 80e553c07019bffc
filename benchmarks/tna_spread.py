r"""Where TNA's spread over seeds comes from: each run's first epochs, from the
history.csv files the runs already record (no TensorFlow).

For every run under --runs (TNA, and the other methods for comparison) it
prints one row: the final base (and twin) test accuracy, and after epoch 1 the
twin's and base's training accuracy, the base's training loss and the matching
term, then the largest epoch-to-epoch rise of the base's training loss (a
loss spike). A seed whose pair starts slowly or spikes stands out from the rest.

    python benchmarks/tna_spread.py --runs=docs/results/table1_convnet_cifar10_20ep/runs \
        --seeds=0,1,2,3,4
"""

import argparse
import csv
import json
import pathlib


def _column(rows, key):
    return [float(row[key]) for row in rows if row.get(key) not in (None, "")]


def describe(run_dir):
    """One run's row: (method, seed, status, figures...)."""
    results = json.loads((run_dir / "results.json").read_text())
    with open(run_dir / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))

    def first(key):
        values = _column(rows, key)
        return f"{values[0]:.3f}" if values else "–"

    base_loss = _column(rows, "base_loss")
    rises = [b - a for a, b in zip(base_loss, base_loss[1:])]

    def pct(key):
        value = results.get(key)
        return "–" if value is None else f"{100 * value:.2f}"

    return [
        results["method"], str(results["seed"]), results.get("status", ""),
        pct("base_accuracy"), pct("twin_accuracy"), first("twin_accuracy"),
        first("base_accuracy"), first("base_loss"), first("matching_loss"),
        f"{max(rises):+.3f}" if rises else "–",
    ]


def table(root, seeds=None):
    """The markdown table of the runs under `root` (only `seeds`, if given)."""
    runs = [p.parent for p in sorted(pathlib.Path(root).rglob("results.json"))]
    rows = [describe(r) for r in runs]
    rows = sorted((r for r in rows if seeds is None or int(r[1]) in seeds),
                  key=lambda r: (r[0], int(r[1])))
    if not rows:
        raise SystemExit(f"tna_spread.py: error: no results.json under --runs={root}")
    header = ["method", "seed", "status", "base acc (%)", "twin acc (%)",
              "twin train acc, ep 1", "base train acc, ep 1", "base loss, ep 1",
              "matching term, ep 1", "largest base-loss rise"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, help="A directory holding runs (searched recursively).")
    parser.add_argument("--seeds", default=None,
                        help="Only these seeds, comma-separated (default: every run).")
    args = parser.parse_args()
    try:
        seeds = None if args.seeds is None else [int(s) for s in args.seeds.split(",")]
    except ValueError:
        raise SystemExit(f"tna_spread.py: error: --seeds must be integers, e.g. 0,1,2. "
                         f"Received: --seeds={args.seeds}") from None
    print(table(args.runs, seeds), end="")


if __name__ == "__main__":
    main()
