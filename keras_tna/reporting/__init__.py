"""Tables and plots of finished runs, in the paper's formats.

`collect` reads the `results.json` files of runs (`keras_tna.runs.store`),
`tables` groups them into settings (network, twin, dataset, learning rate,
epochs) and variants (method, alpha, late-matching start) and computes the
mean and standard deviation over seeds, and the gain over the single
baseline; `report` prints the tables and writes them as markdown and CSV with
PNG plots beside them. `apps/report.py` is its command line.

Accuracies are in percent; the standard deviation is the sample standard
deviation over seeds (ddof=1, 0 for one seed); the gain is the difference of
means in percentage points, with Welch's t statistic and its two-sided p-value
(`scipy.stats.ttest_ind(equal_var=False)`). "Last" is the accuracy after the
last epoch (what `results.json` holds); "best" is the highest validation
accuracy over the epochs of `history.csv`, picked on the test set itself and
so optimistic: report both.
"""

import pathlib

# The grouping, the tables and the plots live in their own modules; their
# public names (and `read_history`, a run's history.csv) are importable from here.
from keras_tna.formatting import csv_text
from keras_tna.reporting.plots import plot_alpha, plot_curves
from keras_tna.reporting.statistics import Stats, gain
from keras_tna.runs.atomic import atomic_write
from keras_tna.runs.store import read_history
from keras_tna.reporting.grouping import (
    best_epoch_values,
    BEST_OF,
    collect,
    group,
    METHOD_LABELS,
    setting_label,
    setting_of,
    variant_label,
    variant_of,
)
from keras_tna.reporting.tables import (
    alpha_table,
    comparison_table,
    ensemble_table,
    per_run_table,
    reinit_table,
    Table,
    tables,
    twin_size_table,
    verdicts,
)

__all__ = [
    "alpha_table",
    "best_epoch_values",
    "BEST_OF",
    "collect",
    "comparison_table",
    "ensemble_table",
    "gain",
    "group",
    "METHOD_LABELS",
    "per_run_table",
    "plot_alpha",
    "plot_curves",
    "read_history",
    "reinit_table",
    "report",
    "setting_label",
    "setting_of",
    "Stats",
    "Table",
    "tables",
    "twin_size_table",
    "variant_label",
    "variant_of",
    "verdicts",
]


# ---------------------------------------------------------------------- report
def report(paths, output_dir=None, name="report", plots=True, echo=True, seeds=None):
    """Prints the tables of the runs under `paths`; writes markdown, CSV, PNGs.

    Args:
        paths: list of str. Run directories or directories holding runs.
        output_dir: str or None. Where to write `<name>.md`, `<name>.csv`,
            `<name>_curves.png` and `<name>_alpha.png`; None writes nothing.
        name: str. File name stem.
        plots: bool. Draw the PNG plots.
        echo: bool. Print the tables.
        seeds: list of int or None. Report only these seeds' runs (a table
            over a seed list fixed in advance); None: every run.

    Returns:
        dict with `tables` (list of `Table`), `markdown` (str) and `files`
        (list of written paths).

    Examples:

    ```python
    report(["runs/quickstart"], output_dir="runs/quickstart")
    ```
    """
    results = collect(paths, seeds=seeds)
    found = tables(results)
    said = verdicts(results)
    markdown = "\n\n".join(t.markdown() for t in found) + "\n"
    if said:
        markdown = (
            "### What the numbers say (base accuracy, last epoch; Welch's t-test)\n\n"
            + "\n".join(f"- {line}" for line in said)
            + "\n\n"
            + markdown
        )
    if echo:
        print("\n\n".join(t.text() for t in found), flush=True)
        if said:
            print("\n" + "\n".join(said), flush=True)
    files = []
    if output_dir is not None:
        out = pathlib.Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        md_path = out / f"{name}.md"
        atomic_write(md_path, markdown)
        csv_path = out / f"{name}.csv"
        records = [r for t in found for r in t.records]
        atomic_write(csv_path, csv_text(records, None if records else ["model"]))
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
