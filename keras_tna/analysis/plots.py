"""PNG plots of the analyses (matplotlib figures): CKA, probes, corruptions."""

import numpy as np

from keras_tna import plotting
from keras_tna.analysis import common
from keras_tna import formatting
from keras_tna.runs.atomic import atomic_write


def plot_cka_heatmaps(matrices, path, title=None):
    """One block x block CKA heatmap per pair kind, side by side.

    Args:
        matrices: dict `{kind: (matrix, names_a, names_b)}`, e.g. the mean
            CKA matrix over the pairs of each kind.
        path: str or path-like, the PNG to write.
        title: str or None.
    """
    kinds = list(matrices)
    columns = min(2, len(kinds))
    grid_rows = -(-len(kinds) // columns)
    fig, axes = plotting.subplots(
        grid_rows, columns, figsize=(4.6 * columns + 1.0, 4.4 * grid_rows),
        squeeze=False, layout="constrained",
    )
    for axis in axes.flat[len(kinds):]:
        axis.axis("off")
    image = None
    for axis, kind in zip(axes.flat, kinds):
        matrix, names_a, names_b = matrices[kind]
        image = axis.imshow(matrix, vmin=0.0, vmax=1.0, cmap="magma", origin="lower")
        axis.set_xticks(range(len(names_b)))
        axis.set_xticklabels([common.block_label(n) for n in names_b], rotation=60, fontsize=7)
        axis.set_yticks(range(len(names_a)))
        axis.set_yticklabels([common.block_label(n) for n in names_a], fontsize=7)
        a, _, b = kind.partition(" vs ")
        axis.set_title(kind, fontsize=10)
        axis.set_ylabel(f"{a} layer", fontsize=8)
        axis.set_xlabel(f"{b} layer", fontsize=8)
        if len(names_a) <= 12 and len(names_b) <= 12:
            for i in range(len(names_a)):
                for j in range(len(names_b)):
                    value = matrix[i, j]
                    text = "n/a" if np.isnan(value) else f"{value:.2f}"
                    color = "black" if np.isnan(value) or value > 0.6 else "white"
                    axis.text(j, i, text, ha="center", va="center", fontsize=6.5, color=color)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="linear CKA")
    if title:
        fig.suptitle(title, fontsize=10)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=130, bbox_inches="tight"))


def plot_lines(values, names, path, ylabel, title=None, percent=False):
    """One line per group over the layers, mean with a +- std error bar.

    Args:
        values: dict `{group: {layer: [values over seeds/pairs]}}`.
        names: list of str, the layers in depth order (x axis).
        path: str or path-like, the PNG to write.
        ylabel: str.
        title: str or None.
        percent: bool, show values x 100.
    """
    fig, axis = plotting.subplots(figsize=(max(5.0, 0.55 * len(names) + 2.5), 3.8))
    scale = 100.0 if percent else 1.0
    x = np.arange(len(names))
    for group, per_layer in values.items():
        stats = [formatting.mean_std(np.asarray(per_layer[n]) * scale) if n in per_layer else (np.nan, 0.0) for n in names]
        means = np.array([m for m, _ in stats])
        stds = np.array([s for _, s in stats])
        count = max(len(v) for v in per_layer.values())
        axis.errorbar(x, means, yerr=stds, marker="o", markersize=4, capsize=3, label=f"{group} (n={count})")
    axis.set_xticks(x)
    axis.set_xticklabels([common.block_label(n) for n in names], rotation=30, fontsize=8)
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if title:
        axis.set_title(title, fontsize=10)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=130, bbox_inches="tight"))


def plot_corruptions(values, corruptions, titles, path, title=None):
    """Grouped bars: accuracy per corruption, one bar per method (mean +- std).

    Args:
        values: dict `{method: {corruption: [accuracies over seeds]}}` (0-1).
        corruptions: list of str, bar groups (e.g. 15 names + "Average", "None").
        titles: dict `{corruption: label}`.
        path: str or path-like.
        title: str or None.
    """
    fig, axis = plotting.subplots(figsize=(max(6.0, 0.62 * len(corruptions) + 2), 3.9))
    methods = list(values)
    width = 0.8 / max(1, len(methods))
    x = np.arange(len(corruptions))
    for k, method in enumerate(methods):
        stats = [formatting.mean_std(np.asarray(values[method].get(c, [np.nan])) * 100) for c in corruptions]
        axis.bar(x + (k - (len(methods) - 1) / 2) * width, [m for m, _ in stats], width,
                 yerr=[s for _, s in stats], capsize=2, label=method)
    axis.set_xticks(x)
    axis.set_xticklabels([titles.get(c, c) for c in corruptions], rotation=55, ha="right", fontsize=8)
    axis.set_ylabel("accuracy (%)")
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=8)
    if title:
        axis.set_title(title, fontsize=10)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=130, bbox_inches="tight"))
