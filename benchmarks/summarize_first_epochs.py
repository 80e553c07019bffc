r"""Summarises the first-epochs studies as markdown tables (no TensorFlow).

Reads the JSON files that `benchmarks/first_epochs.py` (Keras) and
`benchmarks/torch_first_epochs.py` (PyTorch) write, and prints per framework
and method: how many runs diverged (a NaN/inf loss), how many stalled (the
base at most `--stall` accuracy after epoch 1: chance is 10%), and the
validation accuracy of the base (and twin) after each epoch, mean ± sample
std, min and max; then Keras vs PyTorch per method and epoch, with Welch's
t-test. With `--pairs`, the (weight seed, data seed) table.

    python benchmarks/summarize_first_epochs.py \
        docs/results/divergence/keras_first_epochs.json \
        docs/results/divergence/torch_first_epochs.json \
        --pairs=docs/results/divergence/keras_init_vs_data.json
"""

import argparse
import json
import pathlib

import numpy as np
from scipy import stats


def describe(values):
    values = np.asarray(values, float) * 100
    if not len(values):
        return "–"
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return (
        f"{values.mean():.2f} ± {std:.2f} (min {values.min():.2f}, "
        f"max {values.max():.2f}, n={len(values)})"
    )


def framework_of(path, data):
    return "PyTorch " + data["torch"] if "torch" in data else "Keras (keras_tna)"


def summary_rows(name, runs, epochs, stall):
    rows = []
    for method in sorted({r["method"] for r in runs}):
        mine = [r for r in runs if r["method"] == method]
        diverged = sum(r["status"] == "diverged" for r in mine)
        stalled = sum(
            r["status"] != "diverged"
            and r["val_base_accuracy"]
            and r["val_base_accuracy"][0] <= stall
            for r in mine
        )
        cells = [name, method, str(len(mine)), str(diverged), str(stalled)]
        for epoch in range(epochs):
            cells.append(describe([
                r["val_base_accuracy"][epoch] for r in mine
                if len(r["val_base_accuracy"]) > epoch
            ]))
        if method == "tna":
            cells.append(describe([
                r["val_twin_accuracy"][0] for r in mine if r["val_twin_accuracy"]
            ]))
        else:
            cells.append("")
        rows.append(cells)
    return rows


def markdown(columns, rows):
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--pairs", default=None)
    parser.add_argument("--stall", type=float, default=0.15)
    args = parser.parse_args(argv)

    loaded = [(framework_of(f, d), d) for f in args.files
              for d in [json.loads(pathlib.Path(f).read_text())]]
    epochs = max(d["train_epochs"] for _, d in loaded)
    columns = ["Framework", "Method", "Runs", "Diverged", f"Stalled (≤{args.stall:.0%} after epoch 1)"]
    columns += [f"Base after epoch {e + 1} (%)" for e in range(epochs)]
    columns += ["Twin after epoch 1 (%)"]
    rows = []
    for name, data in loaded:
        rows += summary_rows(name, data["runs"], epochs, args.stall)
    print(markdown(columns, rows))

    if len(loaded) > 1:
        print()
        (name_a, a), (name_b, b) = loaded[0], loaded[1]
        compare = []
        for method in sorted({r["method"] for r in a["runs"]} & {r["method"] for r in b["runs"]}):
            for epoch in range(epochs):
                xs = [r["val_base_accuracy"][epoch] * 100 for r in a["runs"]
                      if r["method"] == method and len(r["val_base_accuracy"]) > epoch]
                ys = [r["val_base_accuracy"][epoch] * 100 for r in b["runs"]
                      if r["method"] == method and len(r["val_base_accuracy"]) > epoch]
                if len(xs) > 1 and len(ys) > 1:
                    test = stats.ttest_ind(xs, ys, equal_var=False)
                    compare.append([
                        method, str(epoch + 1), f"{np.mean(xs):.2f}", f"{np.mean(ys):.2f}",
                        f"{np.mean(xs) - np.mean(ys):+.2f}",
                        f"t={test.statistic:.2f}, p={test.pvalue:.2g}",
                    ])
        print(markdown(
            ["Method", "Epoch", f"{name_a} (%)", f"{name_b} (%)", "Difference", "Welch"],
            compare,
        ))

    if args.pairs:
        print()
        data = json.loads(pathlib.Path(args.pairs).read_text())
        rows = [
            [str(r["seed"]), str(r["data_seed"]), f"{r['val_base_accuracy'][0] * 100:.2f}"]
            for r in data["runs"] if r["val_base_accuracy"]
        ]
        print(markdown(["Weight seed", "Data seed", "Single, after epoch 1 (%)"], rows))
        same = [float(r[2]) for r in rows if r[0] == r[1]]
        crossed = [float(r[2]) for r in rows if r[0] != r[1]]
        if len(same) > 1 and len(crossed) > 1:
            test = stats.ttest_ind(same, crossed, equal_var=False)
            print(
                f"\nSame seed: {np.mean(same):.2f} (n={len(same)}); crossed: "
                f"{np.mean(crossed):.2f} (n={len(crossed)}); Welch t={test.statistic:.2f}, "
                f"p={test.pvalue:.2g}."
            )


if __name__ == "__main__":
    main()
