"""Finished runs read and grouped: settings, variants, their labels and order.

A run's setting (network, dataset, learning rate, epochs) is what runs must
share to be compared; its variant (method, twin, alpha, late-matching start)
is what is compared. `collect` reads the runs (with their best epochs),
`group` gathers one metric's values over the seeds of each setting and
variant into `Stats`. Part of `keras_tna.reporting` (which re-exports its
public names); the tables (`reporting.tables`) and plots (`reporting.plots`)
are built from it.
"""


import collections
import pathlib

import numpy as np

from keras_tna import methods
from keras_tna.reporting.statistics import Stats
from keras_tna.runs import store
from keras_tna.runs.store import read_history

# Display names of the methods (`keras_tna.methods.Method.label`).
METHOD_LABELS = {name: m.label for name, m in methods.METHODS.items()}


# ---------------------------------------------------------------------- reading
def collect(paths, seeds=None):
    """Every run's results (`keras_tna.runs.store.collect`), best epochs added.

    Args:
        paths: list of str or path. What `keras_tna.runs.store.collect` reads
            (and the errors it raises).
        seeds: list of int or None. Only these seeds' runs; None: every run.

    Returns:
        list of dict: `store.collect`'s results with the `best_epoch_values`
        of each run's `history.csv` added.

    Examples:

    ```python
    results = collect(["runs/quickstart"])
    ```
    """
    found = store.collect(paths, seeds=seeds)
    for results in found:
        results.update(best_epoch_values(read_history(results["run_dir"])))
    return found


BEST_OF = {
    "best_base_accuracy": "val_base_accuracy",
    "best_twin_accuracy": "val_twin_accuracy",
    "best_ensemble_accuracy": "val_ensemble_accuracy",
}


def best_epoch_values(history):
    """The best validation accuracies over a run's epochs, and the base's epoch.

    Args:
        history: dict of arrays, as `read_history` returns.

    Returns:
        dict: `best_base_accuracy`, `best_twin_accuracy`,
        `best_ensemble_accuracy` (each the maximum of its own column; only
        those whose column exists) and `best_epoch` (1-based epoch of the
        base's best); empty without a history.

    Examples:

    >>> best_epoch_values({"val_base_accuracy": np.array([0.5, 0.7, 0.6])})
    {'best_base_accuracy': 0.7, 'best_epoch': 2}
    """
    found = {}
    for key, column in BEST_OF.items():
        values = history.get(column)
        if values is not None and np.isfinite(values).any():
            found[key] = float(np.nanmax(values))
            if key == "best_base_accuracy":
                found["best_epoch"] = int(np.nanargmax(values)) + 1
    return found


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
    """A setting as text: "convnet / digits / lr 0.05 / 30 ep"."""
    model, dataset, learning_rate, epochs = setting
    return f"{model} / {short_dataset(dataset)} / lr {learning_rate:g} / {epochs} ep"


def short_dataset(name):
    """A dataset name with a folder argument cut to the folder's own name."""
    if ":" in name:
        key, path = name.split(":", 1)
        return f"{key}:{pathlib.Path(path).name}"
    return name


def variant_of(result):
    """(method, twin network, alpha, late-matching start) of a run."""
    method = methods.describe(result["method"])
    return (
        result["method"],
        method.twin_label(
            result.get("twin_model"), result["model"], result.get("twin_reinit")
        ),
        result.get("alpha"),
        result.get("matching_start_epoch") or 0,
    )


def variant_label(variant, show_alpha=False, show_start=False):
    """A variant as text: the method's label, its twin, alpha and start where asked."""
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


def group(results, metric="base_accuracy"):
    """`{setting: {variant: Stats}}` of one metric over the seeds."""
    grouped = collections.defaultdict(lambda: collections.defaultdict(list))
    diverged = collections.defaultdict(collections.Counter)
    collapsed = collections.defaultdict(collections.Counter)
    for result in results:
        setting, variant = setting_of(result), variant_of(result)
        if result.get("status") == "diverged":
            diverged[setting][variant] += 1
            grouped[setting][variant]  # noqa: B018  (keeps the cell)
        elif result.get(metric) is not None:
            grouped[setting][variant].append(result[metric])
            if result.get("status") == "collapsed":
                collapsed[setting][variant] += 1
    return {
        setting: {
            variant: Stats(
                values, diverged[setting][variant], collapsed[setting][variant]
            )
            for variant, values in sorted(variants.items(), key=variant_order)
        }
        for setting, variants in sorted(grouped.items())
    }


def variant_order(item):
    """Sort key of a `(variant, stats)` item: method order, twin, alpha, start."""
    method, twin, alpha, start = item[0]
    return (
        methods.order(method), twin or "", alpha if alpha is not None else -1.0, start
    )


def all_variants(grouped):
    """Every variant of a `group` result, once each, in `variant_order`."""
    variants = []
    for cells in grouped.values():
        for variant in cells:
            if variant not in variants:
                variants.append(variant)
    return sorted(variants, key=lambda v: variant_order((v, None)))


def varies(variants, index):
    """Whether the methods with a matching weight differ in `variant[index]`."""
    values = {v[index] for v in variants if methods.describe(v[0]).matches}
    return len(values) > 1
