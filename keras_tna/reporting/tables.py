"""The paper's tables and the verdicts, from the grouped runs.

Part of `keras_tna.reporting` (which re-exports its public names): `Table`,
the table builders, `tables` and `verdicts` (the runs, settings and variants
they group: `keras_tna.reporting.grouping`; `Stats` and `gain`:
`keras_tna.reporting.statistics`).
"""


import collections
import math

from keras_tna import formatting
from keras_tna import methods
from keras_tna.reporting.grouping import (
    all_variants,
    group,
    setting_label,
    setting_of,
    short_dataset,
    variant_label,
    variant_of,
    variant_order,
    varies,
)
from keras_tna.reporting.statistics import Stats, gain


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


def _format_gain(difference, t, p):
    if math.isnan(difference):
        return ""
    text = f"{difference:+.2f}"
    if not math.isnan(t):
        text += f" (t={t:.2f}, p={p:.3g})"
    return text


def comparison_table(results, metric="base_accuracy"):
    """The paper's Table 1/2 format: each variant's base accuracy, gain vs single.

    Args:
        results: list of dict, as `collect` returns.
        metric: str. `"base_accuracy"` (after the last epoch) or
            `"best_base_accuracy"` (best epoch).
    """
    grouped = group(results, metric)
    variants = all_variants(grouped)
    show_alpha = varies(variants, 2)
    show_start = varies(variants, 3)
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
        row = [model, short_dataset(dataset), f"{learning_rate:g}", str(epochs)]
        row += [cells[v].cell() if v in cells else "" for v in variants]
        baseline = cells.get(single)
        for v in variants:
            if v not in cells:
                continue
            stats = cells[v]
            difference, t, p = (
                gain(stats, baseline)
                if baseline is not None and v != single
                else (math.nan, math.nan, math.nan)
            )
            records.append(_record(setting, labels[v], metric, stats, difference, t, p))
        if has_single:
            for v in gained:
                if v in cells and baseline is not None:
                    row.append(_format_gain(*gain(cells[v], baseline)))
                else:
                    row.append("")
        rows.append(row)
    return Table(
        f"Base network accuracy, {_WHICH[metric]}: mean ± std over seeds; gain "
        "over Single in points (Welch's t, two-sided p)",
        columns,
        rows,
        records,
    )


_WHICH = {
    "base_accuracy": "last epoch",
    "best_base_accuracy": "best epoch",
    "twin_accuracy": "last epoch",
    "ensemble_accuracy": "last epoch",
    "best_twin_accuracy": "best epoch",
    "best_ensemble_accuracy": "best epoch",
}


def ensemble_table(results, best=False):
    """The paper's Table 3 format: base, twin and ensemble accuracy per variant.

    Args:
        results: list of dict, as `collect` returns.
        best: bool. Best-epoch accuracies instead of the last epoch's.
    """
    if all(methods.describe(r["method"]).is_baseline for r in results):
        return None
    metrics = ("base_accuracy", "twin_accuracy", "ensemble_accuracy")
    if best:
        metrics = tuple("best_" + m for m in metrics)
    grouped = {m: group(results, m) for m in metrics}
    variants = all_variants(grouped[metrics[0]])
    show_alpha = varies(variants, 2)
    show_start = varies(variants, 3)
    rows, records = [], []
    for setting, cells in grouped[metrics[0]].items():
        for variant in cells:
            label = variant_label(variant, show_alpha, show_start)
            row = [setting_label(setting), label]
            for metric in metrics:
                stats = grouped[metric].get(setting, {}).get(variant)
                if methods.describe(variant[0]).is_baseline:
                    row.append(stats.cell() if metric == metrics[0] else "")
                    continue
                row.append(stats.cell() if stats is not None else "")
                if stats is not None and stats.n and metric != "base_accuracy":
                    records.append(
                        _record(setting, label, metric, stats, *[math.nan] * 3)
                    )
            rows.append(row)
    return Table(
        f"No ensemble (base) vs ensemble of base and twin (logit average), "
        f"{_WHICH[metrics[0]]}",
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
            [model, short_dataset(dataset)]
            + [Stats(by_twin[t]).cell() if t in by_twin else "" for t in twins]
        )
    return Table(
        "TNA base accuracy for each base (rows) and twin (columns) network",
        ["Base", "Dataset"] + [f"twin {t}" for t in twins],
        rows,
        [],
    )


def reinit_table(results):
    """Paper sec. 4.2: twins copied from the base with some layers re-initialised.

    One row per way the twin started (independent, an exact copy, a copy with
    the named layers drawn afresh); the base's gain over the run with an
    independent twin (same method, alpha and start) with Welch's t and p.
    """
    twins = [r for r in results if methods.describe(r["method"]).twin]
    if not any(r.get("twin_reinit") not in (None, "all") for r in twins):
        return None
    metrics = ("base_accuracy", "twin_accuracy", "ensemble_accuracy")
    grouped = {m: group(twins, m) for m in metrics}
    rows, records = [], []
    for setting, cells in grouped[metrics[0]].items():
        for variant, stats in cells.items():
            method, twin, alpha, start = variant
            reference = cells.get((method, None, alpha, start))
            compared = (
                gain(stats, reference)
                if reference is not None and twin is not None
                else (math.nan,) * 3
            )
            rows.append(
                [setting_label(setting), methods.describe(method).label,
                 "independent" if twin is None else twin]
                + [_cell(grouped[m].get(setting, {}).get(variant)) for m in metrics]
                + [_format_gain(*compared)]
            )
            records.append(_record(setting, variant_label(variant), metrics[0],
                                   stats, *compared))
    return Table(
        "Progressive re-initialisation (paper sec. 4.2): base, twin and ensemble "
        "accuracy by how the twin started (= base: a copy of the base, with the "
        "named layers drawn afresh); gain of the base over an independent twin "
        "in points (Welch's t, two-sided p)",
        ["Setting", "Method", "Twin starts as", "Base", "Twin", "Ensemble",
         "Base vs independent twin"],
        rows,
        records,
    )


def _cell(stats):
    return stats.cell() if stats is not None else ""


def per_run_table(results):
    """Every run: its variant, seed, status, last/best accuracies and wall time."""
    variants = all_variants(group(results))
    show_alpha = varies(variants, 2)
    show_start = varies(variants, 3)

    def percent(result, key):
        value = result.get(key)
        return "" if value is None else f"{100.0 * value:.2f}"

    ordered = sorted(
        results,
        key=lambda r: (setting_of(r), variant_order((variant_of(r), None)), r["seed"]),
    )
    rows = []
    for r in ordered:
        best = percent(r, "best_base_accuracy")
        if best and r.get("best_epoch"):
            best += f" (epoch {r['best_epoch']})"
        rows.append([
            setting_label(setting_of(r)),
            variant_label(variant_of(r), show_alpha, show_start),
            str(r["seed"]),
            r.get("status", ""),
            percent(r, "base_accuracy"),
            best,
            percent(r, "twin_accuracy"),
            percent(r, "ensemble_accuracy"),
            f"{r['wall_time_s'] / 60:.1f}" if r.get("wall_time_s") else "",
        ])
    return Table(
        "Every run: base accuracy after the last epoch and at its best epoch; "
        "twin and ensemble after the last epoch (%)",
        ["Setting", "Variant", "Seed", "Status", "Base last", "Base best",
         "Twin last", "Ensemble last", "Wall (min)"],
        rows,
        [],
    )


def verdicts(results, level=0.05):
    """One plain sentence per variant: does it beat Single, by the numbers?

    Args:
        results: list of dict, as `collect` returns.
        level: float. Significance level of the two-sided Welch test.

    Returns:
        list of str, e.g. "convnet / digits / lr 0.05 / 30 ep: TNA vs Single
        +0.19 points (p=0.62, n=3 vs 3): no significant difference at the 5%
        level."

    Examples:

    ```python
    for line in verdicts(collect(["runs/quickstart"])):
        print(line)
    ```
    """
    grouped = group(results)
    single = (methods.BASELINE.name, None, None, 0)
    variants = all_variants(grouped)
    show_alpha = varies(variants, 2)
    show_start = varies(variants, 3)
    lines = []
    for setting, cells in grouped.items():
        baseline = cells.get(single)
        if baseline is None or not baseline.n:
            continue
        for variant, stats in cells.items():
            if variant == single or not stats.n:
                continue
            difference, t, p = gain(stats, baseline)
            label = variant_label(variant, show_alpha, show_start)
            head = (
                f"{setting_label(setting)}: {label} vs Single {difference:+.2f} points"
            )
            if math.isnan(p):
                lines.append(
                    f"{head} (n={stats.n} vs {baseline.n}): too few runs (or no "
                    "spread) for a test; run at least 2 seeds of each."
                )
                continue
            head += f" (p={p:.2g}, n={stats.n} vs {baseline.n})"
            if p >= level:
                meaning = (
                    f"no significant difference at the {level:.0%} level."
                )
            else:
                meaning = (
                    f"significantly {'better' if difference > 0 else 'worse'} "
                    f"at the {level:.0%} level."
                )
            if stats.diverged:
                meaning += f" {stats.diverged} run(s) diverged and are left out."
            if stats.collapsed:
                meaning += f" {stats.collapsed} run(s) collapsed (counted)."
            lines.append(f"{head}: {meaning}")
    return lines


def tables(results):
    """Every table that the results allow, the comparison tables first."""
    has_best = any("best_base_accuracy" in r for r in results)
    candidates = [
        comparison_table(results),
        comparison_table(results, "best_base_accuracy") if has_best else None,
        ensemble_table(results),
        ensemble_table(results, best=True) if has_best else None,
        alpha_table(results),
        twin_size_table(results),
        reinit_table(results),
        per_run_table(results),
    ]
    return [t for t in candidates if t is not None]


def _record(setting, variant, metric, stats, difference, t, p):
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
        "welch_p": None if math.isnan(p) else float(f"{p:.4g}"),
        "values_percent": " ".join(f"{v:.2f}" for v in stats.values),
    }
