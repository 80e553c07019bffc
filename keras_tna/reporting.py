"""Tables and plots of finished runs, in the paper's formats.

`collect` reads the `results.json` files of runs (`keras_tna.runs.store`),
`tables` groups them into settings (network, twin, dataset, learning rate,
epochs) and variants (method, alpha, late-matching start) and computes the
mean and standard deviation over seeds, and the gain over the single
baseline; `report` prints the tables and writes them as markdown and CSV with
PNG plots beside them. `apps/report.py` is its command line.

Accuracies are in percent; the standard deviation is the sample standard
deviation over seeds (ddof=1, 0 for one seed); the gain is the difference of
means in percentage points, with Welch's t statistic as its size against the
spread.
"""

import collections
import csv
import math
import pathlib

import numpy as np

from keras_tna import formatting
from keras_tna import methods
from keras_tna import plotting
from keras_tna.runs.store import collect, read_history

# Display names of the methods (`keras_tna.methods.Method.label`).
METHOD_LABELS = {name: m.label for name, m in methods.METHODS.items()}


# ---------------------------------------------------------------------- grouping
def setting_of(result):
    """The setting of a run: what single and TNA must share to be compared."""
    return (
        result["model"],
        result["dataset"],
        float(result.get("learning_rate") or 0.0),
        int(result["epochs"]),
    )


def setting_label(setting):
    model, dataset, learning_rate, epochs = setting
    return f"{model} / {_short_dataset(dataset)} / lr {learning_rate:g} / {epochs} ep"


def _short_dataset(name):
    if ":" in name:
        key, path = name.split(":", 1)
        return f"{key}:{pathlib.Path(path).name}"
    return name


def variant_of(result):
    """(method, twin network, alpha, late-matching start) of a run."""
    method = methods.describe(result["method"])
    return (
        result["method"],
        method.twin_label(result.get("twin_model"), result["model"]),
        result.get("alpha"),
        result.get("matching_start_epoch") or 0,
    )


def variant_label(variant, show_alpha=False, show_start=False):
    name, twin, alpha, start = variant
    method = methods.describe(name)
    label = method.label
    details = []
    if twin is not None and twin != "frozen":
        details.append(f"twin {twin}")
    if show_alpha and alpha is not None and method.matches:
        details.append(f"α={alpha:g}")
    if show_start and method.matches:
        details.append(f"start {start}")
    return label + (f" ({', '.join(details)})" if details else "")


class Stats:
    """Mean and spread of one metric over seeds (in percent).

    Args:
        values: list of float. The metric of each completed seed, in [0, 1].
        diverged: int. Runs of this group that diverged.
    """

    def __init__(self, values, diverged=0):
        self.values = [100.0 * v for v in values]
        self.diverged = diverged
        self.n = len(self.values)
        self.mean, self.std = formatting.mean_std(self.values)

    def cell(self):
        if not self.n:
            return "–" if self.diverged else ""
        text = formatting.format_mean_std(
            self.values, digits=2, suffix="%", always_std=True
        )
        if self.diverged:
            text += f", {self.diverged} diverged"
        return text


def gain(stats, baseline):
    """Difference of means (percentage points) and Welch's t, or (nan, nan)."""
    if not stats.n or not baseline.n:
        return float("nan"), float("nan")
    difference = stats.mean - baseline.mean
    se = math.sqrt(
        (stats.std**2 / stats.n if stats.n > 1 else 0.0)
        + (baseline.std**2 / baseline.n if baseline.n > 1 else 0.0)
    )
    return difference, (difference / se if se > 0 else float("nan"))


def group(results, metric="base_accuracy"):
    """`{setting: {variant: Stats}}` of one metric over the seeds."""
    grouped = collections.defaultdict(lambda: collections.defaultdict(list))
    diverged = collections.defaultdict(collections.Counter)
    for result in results:
        setting, variant = setting_of(result), variant_of(result)
        if result.get("status") == "diverged":
            diverged[setting][variant] += 1
            grouped[setting][variant]  # noqa: B018  (keeps the cell)
        elif result.get(metric) is not None:
            grouped[setting][variant].append(result[metric])
    return {
        setting: {
            variant: Stats(values, diverged[setting][variant])
            for variant, values in sorted(variants.items(), key=_variant_order)
        }
        for setting, variants in sorted(grouped.items())
    }


def _variant_order(item):
    method, twin, alpha, start = item[0]
    return (
        methods.order(method), twin or "", alpha if alpha is not None else -1.0, start
    )


# ---------------------------------------------------------------------- tables
class Table:
    """A titled table: column names and rows of strings (and CSV records)."""

    def __init__(self, title, columns, rows, records):
        self.title = title
        self.columns = columns
        self.rows = rows
        self.records = records

    def markdown(self):
        table = formatting.markdown_table(self.columns, self.rows)
        return f"### {self.title}\n\n{table}"

    def text(self):
        widths = [
            max(len(str(c)) for c in column)
            for column in zip(self.columns, *self.rows)
        ]
        def line(cells):
            return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))
        return "\n".join(
            [self.title, line(self.columns), line("-" * w for w in widths)]
            + [line(row) for row in self.rows]
        )


def _format_gain(difference, t):
    if math.isnan(difference):
        return ""
    text = f"{difference:+.2f}"
    if not math.isnan(t):
        text += f" (t={t:.1f})"
    return text


def comparison_table(results):
    """The paper's Table 1/2 format: each variant's base accuracy, gain vs single."""
    grouped = group(results)
    variants = _all_variants(grouped)
    show_alpha = _varies(variants, 2)
    show_start = _varies(variants, 3)
    labels = {v: variant_label(v, show_alpha, show_start) for v in variants}
    single = (methods.BASELINE.name, None, None, 0)
    gained = [v for v in variants if v != single]
    has_single = any(single in row for row in grouped.values())
    columns = ["Network", "Dataset", "lr", "Epochs"] + [labels[v] for v in variants]
    if has_single:
        columns += [f"Gain {labels[v]}" for v in gained]
    rows, records = [], []
    for setting, cells in grouped.items():
        model, dataset, learning_rate, epochs = setting
        row = [model, _short_dataset(dataset), f"{learning_rate:g}", str(epochs)]
        row += [cells[v].cell() if v in cells else "" for v in variants]
        baseline = cells.get(single)
        for v in variants:
            if v not in cells:
                continue
            stats = cells[v]
            difference, t = (
                gain(stats, baseline)
                if baseline is not None and v != single
                else (math.nan, math.nan)
            )
            records.append(
                _record(setting, labels[v], "base_accuracy", stats, difference, t)
            )
        if has_single:
            for v in gained:
                if v in cells and baseline is not None:
                    row.append(_format_gain(*gain(cells[v], baseline)))
                else:
                    row.append("")
        rows.append(row)
    return Table(
        "Base network accuracy: mean ± std over seeds; gain over Single in "
        "points (Welch's t)",
        columns,
        rows,
        records,
    )


def ensemble_table(results):
    """The paper's Table 3 format: base, twin and ensemble accuracy per variant."""
    if all(methods.describe(r["method"]).is_baseline for r in results):
        return None
    metrics = ("base_accuracy", "twin_accuracy", "ensemble_accuracy")
    grouped = {m: group(results, m) for m in metrics}
    variants = _all_variants(grouped["base_accuracy"])
    show_alpha = _varies(variants, 2)
    show_start = _varies(variants, 3)
    rows, records = [], []
    for setting, cells in grouped["base_accuracy"].items():
        for variant in cells:
            label = variant_label(variant, show_alpha, show_start)
            row = [setting_label(setting), label]
            for metric in metrics:
                stats = grouped[metric][setting].get(variant)
                if methods.describe(variant[0]).is_baseline:
                    row.append(stats.cell() if metric == "base_accuracy" else "")
                    continue
                row.append(stats.cell() if stats is not None else "")
                if stats is not None and stats.n and metric != "base_accuracy":
                    records.append(
                        _record(setting, label, metric, stats, math.nan, math.nan)
                    )
            rows.append(row)
    return Table(
        "No ensemble (base) vs ensemble of base and twin (logit average)",
        ["Setting", "Variant", "Base", "Twin", "Ensemble"],
        rows,
        records,
    )


def alpha_table(results):
    """The paper's Table 7 format: TNA base accuracy for each alpha."""
    tna = [r for r in results if r["method"] == methods.TNA.name]
    alphas = sorted({r["alpha"] for r in tna})
    if len(alphas) < 2:
        return None
    grouped = group(tna)
    columns = ["Setting"] + [f"α={a:g}" for a in alphas]
    rows = []
    for setting, cells in grouped.items():
        by_alpha = {v[2]: s for v, s in cells.items()}
        rows.append(
            [setting_label(setting)]
            + [by_alpha[a].cell() if a in by_alpha else "" for a in alphas]
        )
    return Table(
        "TNA base accuracy against alpha (– : every seed diverged)",
        columns,
        rows,
        [],
    )


def twin_size_table(results):
    """The paper's Table 8 format: base accuracy for base x twin networks."""
    tna = [r for r in results if r["method"] == methods.TNA.name]
    twins = sorted({r["twin_model"] for r in tna})
    if not any(r["twin_model"] != r["model"] for r in tna):
        return None
    rows = []
    cells = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in tna:
        if r.get("base_accuracy") is not None:
            cells[(r["model"], r["dataset"])][r["twin_model"]].append(
                r["base_accuracy"]
            )
    for (model, dataset), by_twin in sorted(cells.items()):
        rows.append(
            [model, _short_dataset(dataset)]
            + [Stats(by_twin[t]).cell() if t in by_twin else "" for t in twins]
        )
    return Table(
        "TNA base accuracy for each base (rows) and twin (columns) network",
        ["Base", "Dataset"] + [f"twin {t}" for t in twins],
        rows,
        [],
    )


def tables(results):
    """Every table that the results allow, the comparison table first."""
    candidates = [
        comparison_table(results),
        ensemble_table(results),
        alpha_table(results),
        twin_size_table(results),
    ]
    return [t for t in candidates if t is not None]


def _all_variants(grouped):
    variants = []
    for cells in grouped.values():
        for variant in cells:
            if variant not in variants:
                variants.append(variant)
    return sorted(variants, key=lambda v: _variant_order((v, None)))


def _varies(variants, index):
    """Whether the methods with a matching weight differ in `variant[index]`."""
    values = {v[index] for v in variants if methods.describe(v[0]).matches}
    return len(values) > 1


def _record(setting, variant, metric, stats, difference, t):
    model, dataset, learning_rate, epochs = setting
    return {
        "model": model,
        "dataset": dataset,
        "learning_rate": learning_rate,
        "epochs": epochs,
        "variant": variant,
        "metric": metric,
        "mean_percent": round(stats.mean, 4),
        "std_percent": round(stats.std, 4),
        "n": stats.n,
        "diverged": stats.diverged,
        "gain_vs_single_points": None if math.isnan(difference) else round(difference, 4),
        "welch_t": None if math.isnan(t) else round(t, 3),
        "values_percent": " ".join(f"{v:.2f}" for v in stats.values),
    }


# ---------------------------------------------------------------------- plots
def plot_curves(results, path, metric="val_base_accuracy"):
    """Validation accuracy per epoch, mean and min-max band over seeds.

    One panel per setting, one line per variant (single vs TNA, late-matching
    starts, ...). With late matching, a second row of panels shows the
    matching loss (the paper's Fig. 5).

    Args:
        results: list of dict, from `collect`.
        path: str or path. The PNG file to write.
        metric: str. The `history.csv` column to draw.

    Returns:
        The path written, or None when no run has that column.
    """
    curves = collections.defaultdict(lambda: collections.defaultdict(list))
    twins = collections.defaultdict(lambda: collections.defaultdict(list))
    losses = collections.defaultdict(lambda: collections.defaultdict(list))
    diverged = collections.Counter()
    twin_metric = metric.replace("base", "twin")
    for result in results:
        key = (setting_of(result), variant_of(result))
        if result.get("status") != "completed":
            diverged[key] += 1
            continue
        history = read_history(result["run_dir"])
        if metric not in history:
            continue
        curves[key[0]][key[1]].append((history["epoch"], history[metric]))
        if twin_metric != metric and twin_metric in history:
            twins[key[0]][key[1]].append((history["epoch"], history[twin_metric]))
        if "val_matching_loss" in history and methods.describe(result["method"]).twin:
            losses[key[0]][key[1]].append(
                (history["epoch"], history["val_matching_loss"])
            )
    if not curves:
        return None
    settings = sorted(curves)
    variants = [v for s in settings for v in curves[s]]
    show_alpha = _varies(variants, 2)
    show_start = _varies(variants, 3)
    rows = 2 if show_start and losses else 1
    fig, axes = plotting.subplots(
        rows, len(settings), figsize=(6 * len(settings), 4 * rows), squeeze=False
    )
    for column, setting in enumerate(settings):
        panels = [(axes[0][column], curves[setting], 100.0, "validation accuracy (%)")]
        if rows == 2:
            panels.append(
                (axes[1][column], losses[setting], 1.0, "validation matching loss")
            )
        for index, (axis, by_variant, scale, ylabel) in enumerate(panels):
            for variant in sorted(by_variant, key=lambda v: _variant_order((v, None))):
                label = variant_label(variant, show_alpha, show_start)
                if diverged[(setting, variant)]:
                    label += f", {diverged[(setting, variant)]} diverged (left out)"
                color = _draw_band(axis, by_variant[variant], scale, label)
                if index == 0 and twins[setting].get(variant):
                    _draw_band(
                        axis, twins[setting][variant], scale,
                        f"{label}: twin", color=color, linestyle="--",
                    )
            axis.set_xlabel("epoch")
            axis.set_ylabel(ylabel)
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8)
        axes[0][column].set_title(
            setting_label(setting) + "\n(mean over seeds; band: min to max)",
            fontsize=10,
        )
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def _draw_band(axis, runs, scale, label, color=None, linestyle="-"):
    """Draws the mean over runs and a min-max band; returns the line colour."""
    length = min(len(epochs) for epochs, _ in runs)
    epochs = runs[0][0][:length] + 1
    values = np.stack([v[:length] for _, v in runs]) * scale
    mean = np.nanmean(values, axis=0)
    line = axis.plot(
        epochs, mean, label=f"{label} (n={len(runs)})", color=color,
        linestyle=linestyle,
    )[0]
    if len(runs) > 1:
        axis.fill_between(
            epochs,
            np.nanmin(values, axis=0),
            np.nanmax(values, axis=0),
            color=line.get_color(),
            alpha=0.1 if linestyle != "-" else 0.2,
        )
    return line.get_color()


def plot_alpha(results, path):
    """Final base accuracy against alpha (the paper's Table 7), mean ± std."""
    tna = [r for r in results if r["method"] == methods.TNA.name]
    if len({r["alpha"] for r in tna}) < 2:
        return None
    fig, axis = plotting.subplots(figsize=(6, 4))
    for setting, cells in group(tna).items():
        points = sorted((v[2], s) for v, s in cells.items() if s.n)
        if not points:
            continue
        alphas = [a for a, _ in points]
        axis.errorbar(
            alphas,
            [s.mean for _, s in points],
            yerr=[s.std for _, s in points],
            marker="o",
            capsize=3,
            label=setting_label(setting),
        )
        for variant, stats in cells.items():
            if not stats.n and stats.diverged:
                axis.axvline(variant[2], color="red", alpha=0.3, linestyle="--")
    axis.set_xscale("symlog", linthresh=1e-4)
    axis.set_xlabel("alpha (red dashes: diverged)")
    axis.set_ylabel("base accuracy (%)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


# ---------------------------------------------------------------------- report
def report(paths, output_dir=None, name="report", plots=True, echo=True):
    """Prints the tables of the runs under `paths`; writes markdown, CSV, PNGs.

    Args:
        paths: list of str. Run directories or directories holding runs.
        output_dir: str or None. Where to write `<name>.md`, `<name>.csv`,
            `<name>_curves.png` and `<name>_alpha.png`; None writes nothing.
        name: str. File name stem.
        plots: bool. Draw the PNG plots.
        echo: bool. Print the tables.

    Returns:
        dict with `tables` (list of `Table`), `markdown` (str) and `files`
        (list of written paths).

    Examples:

    ```python
    report(["runs/quickstart"], output_dir="runs/quickstart")
    ```
    """
    results = collect(paths)
    found = tables(results)
    markdown = "\n\n".join(t.markdown() for t in found) + "\n"
    if echo:
        print("\n\n".join(t.text() for t in found), flush=True)
    files = []
    if output_dir is not None:
        out = pathlib.Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        md_path = out / f"{name}.md"
        md_path.write_text(markdown)
        csv_path = out / f"{name}.csv"
        records = [r for t in found for r in t.records]
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(
                f, fieldnames=list(records[0]) if records else ["model"]
            )
            writer.writeheader()
            writer.writerows(records)
        files += [md_path, csv_path]
        if plots:
            for written in (
                plot_curves(results, out / f"{name}_curves.png"),
                plot_alpha(results, out / f"{name}_alpha.png"),
            ):
                if written is not None:
                    files.append(written)
        if echo:
            print("Wrote " + ", ".join(str(f) for f in files), flush=True)
    return {"tables": found, "markdown": markdown, "files": files}
