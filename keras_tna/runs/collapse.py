"""The collapse rule: a finite run whose loss exploded or whose accuracy fell to chance.

`keras_tna.training.train` applies it to a run's history after training; a
collapsed run gets `status: "collapsed"` in results.json, a warning, a mark
in the report, and `apps/train.py` exits non-zero as for a divergence.
"""

import math


def collapse_message(rows, num_classes):
    """Says whether a finite run collapsed; None when it did not.

    The rule (docs/reliability.md), on the history rows of the run:

    - the loss exploded: the base network's training loss (`base_loss`, else
      `loss`) of the last epoch is more than `2 x max(first epoch's, ln C)`,
      C the number of classes (ln C: the loss of a uniform guess); or
    - the accuracy fell to chance: an epoch's accuracy (validation where
      measured, else training) was at least `chance + 0.3 (1 - chance)`, and
      the last two epochs' are at most `chance + 0.1 (1 - chance)`.

    Healthy runs lower their training loss and keep their accuracy, so
    neither fires on them (checked on the committed runs under docs/results).

    Args:
        rows: list of dict. History rows (`history_row`), in epoch order.
        num_classes: int. Classes of the dataset.

    Returns:
        str (a one-line warning) or None.

    Examples:

    >>> rows = [{"epoch": "0", "base_loss": "1.9"}, {"epoch": "1", "base_loss": "280"}]
    >>> collapse_message(rows, num_classes=10)[:47]
    'Training collapsed: the training base_loss rose'
    """
    if not rows or not num_classes or num_classes < 2:
        return None

    def value(row, *keys):
        for key in keys:
            try:
                number = float(row.get(key, "nan"))
            except (TypeError, ValueError):
                continue
            if math.isfinite(number):
                return number
        return math.nan

    loss_key = "base_loss" if "base_loss" in rows[0] else "loss"
    first, last = value(rows[0], loss_key), value(rows[-1], loss_key)
    limit = 2 * max(first, math.log(num_classes))
    if math.isfinite(last) and last > limit:
        return (
            f"Training collapsed: the training {loss_key} rose to {last:.4g} at "
            f"epoch {len(rows)} (first epoch: {first:.4g}; flagged above "
            f"2 x max(first epoch, ln {num_classes}) = {limit:.4g}). Lower the "
            "learning rate or alpha."
        )
    chance = 1.0 / num_classes
    accuracy = [value(r, "val_base_accuracy", "base_accuracy") for r in rows]
    peak = max((a for a in accuracy[:-2] if math.isfinite(a)), default=math.nan)
    low = chance + 0.1 * (1 - chance)
    if (
        len(rows) >= 3
        and peak >= chance + 0.3 * (1 - chance)
        and all(math.isfinite(a) and a <= low for a in accuracy[-2:])
    ):
        return (
            f"Training collapsed: the base network's accuracy fell to chance "
            f"({accuracy[-1]:.4f}; chance {chance:.4f}) after reaching "
            f"{peak:.4f}. Lower the learning rate or alpha."
        )
    return None
