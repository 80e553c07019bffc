"""The compute-matched comparison: what TNA's 2x training compute buys.

TNA trains two networks, so it costs twice a single network's training
compute. This table sets it beside the other ways of spending that compute on
one network (train it longer, make it wider) and beside the ensemble of two
singles, with the compute each row pays for training and at inference.

Rows are formed from `results.json` files (`keras_tna.reporting.collect`) by
(method, network, network arguments, epochs); each row's accuracy is the base's
(`base_accuracy`), except for the ensemble of two singles, whose network is the
ensemble (`ensemble_accuracy`). The reference row is the single network of the
smallest width with the fewest epochs ("Single 20"); the TNA row is TNA at the
reference's epochs.

Statistics: mean ± sample std over completed seeds (diverged runs are counted
in the row, not averaged); the gain over the reference and over TNA is the
difference of means with Welch's t and its two-sided p; where both rows hold
runs that share the base's initialisation and data order (same network, same
network arguments, same seed: a single run, the TNA base and the ensemble's
first network of one seed start identical and see the same batches), the
paired difference over those seeds with the paired t-test's p as well.

Compute columns, relative to the reference: training network-epochs (networks
trained x epochs), training MACs (per-example forward MACs of each trained
network, `keras_tna.models.count_macs`, x epochs; the backward pass scales
with it) and inference MACs (the network kept: the base, or both networks of
the ensemble).
"""

import collections
import dataclasses
import json
import math

from scipy import stats as scipy_stats

from keras_tna import formatting
from keras_tna import methods
from keras_tna import models
from keras_tna import plotting
from keras_tna.reporting.statistics import Stats, gain
from keras_tna.runs.atomic import atomic_write
from keras_tna.reporting.tables import Table

@dataclasses.dataclass
class Row:
    """One row of the compute-matched table.

    Args:
        method: str. The runs' method (`keras_tna.methods`).
        model: str. The base network's name.
        network_args: dict. Its extra keyword arguments (e.g. `{"width": 1.45}`).
        epochs: int. Training epochs.
        runs: list of dict. The runs' results.
    """

    method: str
    model: str
    network_args: dict
    epochs: int
    runs: list

    @property
    def metric(self):
        return methods.describe(self.method).accuracy_key

    @property
    def networks_trained(self):
        return 2 if methods.describe(self.method).twin else 1

    @property
    def networks_kept(self):
        return methods.describe(self.method).networks_kept

    @property
    def label(self):
        method = methods.describe(self.method)
        name = f"Ensemble of {method.label}" if method.ensembled else method.label
        width = self.network_args.get("width")
        if width not in (None, 1, 1.0):
            name = f"Wide ×{width:g} {name}"
        return f"{name}, {self.epochs} ep"

    def completed(self):
        """`{seed: accuracy}` of the completed runs."""
        return {
            r["seed"]: r[self.metric]
            for r in self.runs
            if r.get("status") != "diverged" and r.get(self.metric) is not None
        }

    def stats(self):
        diverged = sum(r.get("status") == "diverged" for r in self.runs)
        return Stats(list(self.completed().values()), diverged)

    def shares_init_with(self, other):
        return (self.model, self.network_args) == (other.model, other.network_args)


def rows_of(results):
    """Groups runs into `Row`s, in the table's order (reference first).

    Args:
        results: list of dict. `results.json` contents (`reporting.collect`).

    Returns:
        list of `Row`: the reference, TNA at its epochs, the other rows by
        width and epochs, the ensemble of two singles last.
    """
    grouped = collections.defaultdict(list)
    for result in results:
        args = _network_args(result)
        key = (result["method"], result["model"], json.dumps(args, sort_keys=True),
               int(result["epochs"]))
        grouped[key].append(result)
    rows = [
        Row(method, model, json.loads(args), epochs, runs)
        for (method, model, args, epochs), runs in grouped.items()
    ]
    rows.sort(key=lambda r: (r.network_args.get("width", 1.0), r.epochs))
    reference, tna = reference_and_tna(rows)
    rest = [r for r in rows if r is not reference and r is not tna]
    rest.sort(key=lambda r: (methods.describe(r.method).ensembled, methods.order(r.method)))
    return [reference] + ([tna] if tna else []) + rest


def _network_args(result):
    text = (result.get("flags") or {}).get("network_args") or ""
    return json.loads(text) if text.strip() else {}


def reference_and_tna(rows):
    """The reference row (narrowest single, fewest epochs) and TNA at its epochs."""
    singles = [r for r in rows if r.method == methods.BASELINE.name]
    if not singles:
        raise ValueError(
            "The compute-matched table needs single-network runs as its "
            f"reference. Received the methods {sorted({r.method for r in rows})}"
        )
    reference = min(singles, key=lambda r: (r.network_args.get("width", 1.0), r.epochs))
    tna = [r for r in rows if r.method == methods.TNA.name
           and r.epochs == reference.epochs and r.shares_init_with(reference)]
    return reference, (tna[0] if tna else None)


def paired(row, other):
    """Paired difference (points) over the seeds both rows completed.

    Returns:
        tuple `(mean difference, std, n, p)`; None where the rows do not
        share the base's initialisation or have no common seed; p is nan
        below 2 pairs or without spread.
    """
    if row is other or not row.shares_init_with(other):
        return None
    mine, theirs = row.completed(), other.completed()
    seeds = sorted(set(mine) & set(theirs))
    if not seeds:
        return None
    differences = [100.0 * (mine[s] - theirs[s]) for s in seeds]
    mean, std = formatting.mean_std(differences)
    p = float("nan")
    if len(seeds) > 1 and std > 0:
        p = float(scipy_stats.ttest_rel([mine[s] for s in seeds],
                                        [theirs[s] for s in seeds]).pvalue)
    return mean, std, len(seeds), p


def _gain_cell(row, other):
    if other is None or row is other:
        return "–"
    difference, t, p = gain(row.stats(), other.stats())
    if math.isnan(difference):
        return "–"
    text = f"{difference:+.2f}"
    if not math.isnan(p):
        text += f" (p={p:.2g})"
    pair = paired(row, other)
    if pair is not None:
        mean, std, n, p_pair = pair
        spread = f" ± {std:.2f}" if n > 1 else ""
        text += f"; paired {mean:+.2f}{spread} (n={n}"
        text += f", p={p_pair:.2g})" if not math.isnan(p_pair) else ")"
    return text


def compute_table(results, macs_of):
    """The compute-matched table.

    Args:
        results: list of dict. `results.json` contents (`reporting.collect`).
        macs_of: callable `(model, network_args) -> int`, a network's forward
            MACs per example (e.g. built with `keras_tna.models.build` and
            counted with `keras_tna.models.count_macs`).

    Returns:
        `Table`: one row per (method, network, arguments, epochs), columns
        accuracy, gain over the reference and over TNA (Welch p; paired where
        the rows share the base's seeds), training network-epochs, training
        MACs and inference MACs relative to the reference.

    Examples:

    ```python
    results = reporting.collect(["docs/results/compute_matched_convnet_cifar10"])
    table = compute_table(results, lambda m, a: models.count_macs(
        models.build(m, 10, (32, 32, 3), **a)))
    ```
    """
    rows = rows_of(results)
    reference, tna = reference_and_tna(rows)  # rows[0], and rows[1] or None
    macs = {}
    for row in rows:
        key = (row.model, json.dumps(row.network_args, sort_keys=True))
        if key not in macs:
            macs[key] = macs_of(row.model, row.network_args)
    def forward(row):
        return macs[(row.model, json.dumps(row.network_args, sort_keys=True))]
    unit_train = forward(reference) * reference.epochs
    columns = ["Network", "Accuracy (%)", f"vs {reference.label}",
               f"vs {tna.label}" if tna else "vs TNA",
               "Training network-epochs", "Training MACs", "Inference MACs"]
    table_rows, records = [], []
    for row in rows:
        stats = row.stats()
        train_epochs = row.networks_trained * row.epochs
        train_macs = row.networks_trained * forward(row) * row.epochs / unit_train
        infer_macs = row.networks_kept * forward(row) / forward(reference)
        table_rows.append([
            row.label, stats.cell(), _gain_cell(row, reference), _gain_cell(row, tna),
            f"{train_epochs} ({train_epochs / reference.epochs:.2f}x)",
            f"{train_macs:.2f}x", f"{infer_macs:.2f}x",
        ])
        records.append({
            "row": row.label, "method": row.method, "model": row.model,
            "network_args": json.dumps(row.network_args), "epochs": row.epochs,
            "metric": row.metric, "n": stats.n, "diverged": stats.diverged,
            "mean": stats.mean, "std": stats.std,
            "accuracies": ";".join(f"{v:.2f}" for v in stats.values),
            "train_network_epochs": train_epochs, "train_macs_rel": train_macs,
            "inference_macs_rel": infer_macs,
        })
    title = (
        "Compute-matched comparison: accuracy of the network kept (mean ± std "
        "over seeds); gain in points (Welch p; paired over shared seeds); "
        f"compute relative to {reference.label}"
    )
    return Table(title, columns, table_rows, records)


def macs_counter(num_classes, input_shape):
    """The `macs_of` of `compute_table` for the networks as the runs built them.

    Args:
        num_classes: int. Classes of the networks' heads.
        input_shape: tuple of int. One example's shape, e.g. `(32, 32, 3)`.

    Returns:
        callable `(model, network_args) -> int`: `keras_tna.models.build`, then
        `keras_tna.models.count_macs`.
    """

    def macs_of(model, network_args):
        return models.count_macs(
            models.build(model, num_classes, tuple(input_shape), **network_args))

    return macs_of


Report = collections.namedtuple("Report", ["table", "verdicts", "runs", "markdown"])
Report.__doc__ = """The compute-matched report: its parts and its page.

Fields: `table` (`compute_table`), `verdicts` (list of str, `verdicts`),
`runs` (`runs_table`) and `markdown` (str, the page `<name>.md`).
"""


def report(results, macs_of):
    """The compute-matched report (`apps/compute_report.py` writes it).

    Args:
        results: list of dict. `results.json` contents (`reporting.collect`).
        macs_of: callable. As in `compute_table` (e.g. `macs_counter(...)`).

    Returns:
        `Report`: the table, the verdicts against TNA, every run, and the
        page that puts the three together.

    Examples:

    ```python
    made = report(collect(["runs/"]), macs_counter(10, (32, 32, 3)))
    print(made.table.text(), *made.verdicts, sep="\\n")
    ```
    """
    table = compute_table(results, macs_of)
    said = verdicts(table)
    runs = runs_table(results)
    markdown = (
        "### What the numbers say (against TNA; Welch's t-test)\n\n"
        + "".join(f"- {line}\n" for line in said)
        + "\n" + table.markdown() + "\n\n" + runs.markdown() + "\n"
    )
    return Report(table, said, runs, markdown)


def _dodge(xs, step, within=0.15):
    """Horizontal offsets that put points of nearby x (closer than `within`
    to the first of their group) side by side, `step` apart, in x order.

    >>> [round(o, 3) for o in _dodge([1.0, 2.0, 2.06, 2.0], step=0.1)]
    [0.0, -0.1, 0.1, 0.0]
    """
    offsets = [0.0] * len(xs)
    order = sorted(range(len(xs)), key=lambda i: (xs[i], i))
    groups = []
    for i in order:
        if groups and xs[i] - xs[groups[-1][0]] < within:
            groups[-1].append(i)
        else:
            groups.append([i])
    for group in groups:
        for k, i in enumerate(group):  # sorted by (x, table order)
            offsets[i] = step * (k - (len(group) - 1) / 2)
    return offsets


def plot_compute(table, path):
    """Accuracy against training MACs: each row's mean ± std and its seeds.

    Rows at the same training compute (e.g. TNA, Single trained twice as
    long, the ensemble: all 2x) are drawn side by side around their x.

    Args:
        table: `Table` from `compute_table`.
        path: str or path. The PNG file to write.

    Returns:
        The path written.
    """
    figure, axis = plotting.subplots(figsize=(6.4, 4.2), layout="constrained")
    drawn = [r for r in table.records if r["n"]]
    offsets = _dodge([r["train_macs_rel"] for r in drawn], step=0.07)
    for record, offset in zip(drawn, offsets):
        marker = "s" if record["inference_macs_rel"] > 1.5 else "o"
        line = axis.errorbar(record["train_macs_rel"] + offset, record["mean"],
                             yerr=record["std"], marker=marker, capsize=4,
                             linestyle="none", label=f"{record['row']} (n={record['n']})")
        seeds = [float(v) for v in record["accuracies"].split(";")]
        axis.plot([record["train_macs_rel"] + offset + 0.02] * len(seeds), seeds,
                  marker=".", linestyle="none", alpha=0.5, color=line[0].get_color())
    axis.set_xlabel("training compute (MACs, relative to the reference; "
                    "rows near one x side by side)", fontsize=9)
    axis.set_ylabel("test accuracy of the network kept (%)")
    axis.set_title("What the training compute buys\n(mean ± std, dots: seeds; squares: 2x inference)",
                   fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="upper left")
    atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=120))
    return path


def runs_table(results):
    """Every run of the comparison: its row, seed, status, accuracy and wall time."""
    rows = []
    for row in rows_of(results):
        for r in sorted(row.runs, key=lambda r: r["seed"]):
            value = r.get(row.metric)
            rows.append([
                row.label, str(r["seed"]), r.get("status", ""),
                "" if value is None else f"{100.0 * value:.2f}",
                f"{r['wall_time_s'] / 60:.1f}" if r.get("wall_time_s") else "",
            ])
    return Table(
        "Every run: accuracy of the network kept after the last epoch",
        ["Row", "Seed", "Status", "Accuracy (%)", "Wall (min)"], rows, [],
    )


def verdicts(table, level=0.05):
    """One sentence per row against TNA: does the same compute do better?"""
    records = {r["row"]: r for r in table.records}
    tna_column = table.columns[3]
    lines = []
    for cells in table.rows:
        gain_text = cells[3]
        if gain_text == "–" or cells[0] == tna_column[3:]:
            continue
        p = _p_of(gain_text)
        record = records[cells[0]]
        head = f"{cells[0]} {tna_column}: {gain_text.split(';')[0]} points"
        if p is None:
            lines.append(f"{head} (n={record['n']}): too few runs for a test.")
        elif p >= level:
            lines.append(f"{head}: no significant difference at the {level:.0%} level.")
        else:
            better = gain_text.startswith("+")
            lines.append(f"{head}: significantly {'better' if better else 'worse'} "
                         f"than TNA at the {level:.0%} level.")
    return lines


def _p_of(text):
    head = text.split(";")[0]
    if "(p=" not in head:
        return None
    return float(head.split("(p=")[1].rstrip(")"))
