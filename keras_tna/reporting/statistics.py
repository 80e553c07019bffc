"""Statistics of one metric over seeds: mean ± std cells and Welch's gain.

Part of `keras_tna.reporting` (which re-exports every name); used by the
paper's tables (`reporting.tables`) and the compute-matched table
(`reporting.compute`).
"""

from scipy import stats as scipy_stats

from keras_tna import formatting


class Stats:
    """Mean and spread of one metric over seeds (in percent).

    Args:
        values: list of float. The metric of each completed seed, in [0, 1].
        diverged: int. Runs of this group that diverged (left out of `values`).
        collapsed: int. Runs of this group that collapsed (finite, but their
            loss exploded or their accuracy fell to chance; in `values`).
    """

    def __init__(self, values, diverged=0, collapsed=0):
        self.values = [100.0 * v for v in values]
        self.diverged = diverged
        self.collapsed = collapsed
        self.n = len(self.values)
        self.mean, self.std = formatting.mean_std(self.values)

    def cell(self):
        """The table cell: mean ± std (n), then the diverged/collapsed runs.

        One seed has no spread, so its cell has none.

        Examples:

        >>> Stats([0.7, 0.8], diverged=1).cell()
        '75.00 ± 7.07% (n=2), 1 diverged'
        >>> Stats([0.7]).cell()
        '70.00% (n=1)'
        """
        if not self.n:
            return "–" if self.diverged else ""
        text = formatting.format_mean_std(self.values, digits=2, suffix="%")
        if self.diverged:
            text += f", {self.diverged} diverged"
        if self.collapsed:
            text += f", {self.collapsed} collapsed"
        return text


def gain(stats, baseline):
    """Difference of means (points), Welch's t and its two-sided p-value.

    Args:
        stats: `Stats` of the variant.
        baseline: `Stats` of the single baseline.

    Returns:
        tuple `(difference, t, p)`; t and p are nan unless both sides have
        at least two seeds and some spread; all three are nan if a side is
        empty.

    Examples:

    >>> d, t, p = gain(Stats([0.80, 0.82, 0.81]), Stats([0.78, 0.79, 0.77]))
    >>> round(d, 2), round(t, 2), round(p, 4)
    (3.0, 3.67, 0.0213)
    """
    nan = float("nan")
    if not stats.n or not baseline.n:
        return nan, nan, nan
    difference = stats.mean - baseline.mean
    if stats.n < 2 or baseline.n < 2 or (stats.std == 0 and baseline.std == 0):
        return difference, nan, nan
    test = scipy_stats.ttest_ind(stats.values, baseline.values, equal_var=False)
    return difference, float(test.statistic), float(test.pvalue)
