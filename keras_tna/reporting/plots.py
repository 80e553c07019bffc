"""Plots of finished runs: validation curves per epoch, accuracy against alpha.

Part of `keras_tna.reporting` (which re-exports every name).
"""

import collections
import pathlib

import numpy as np

from keras_tna import methods
from keras_tna import plotting
from keras_tna.runs.atomic import atomic_write
from keras_tna.runs.store import read_history
from keras_tna.reporting.grouping import (
    group,
    setting_label,
    setting_of,
    variant_label,
    variant_of,
    variant_order,
    varies,
)


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
    show_alpha = varies(variants, 2)
    show_start = varies(variants, 3)
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
            for variant in sorted(by_variant, key=lambda v: variant_order((v, None))):
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
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120))
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
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120))
    return path
