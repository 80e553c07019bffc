"""Text of results: markdown tables, CSV and mean ± std cells, in one place.

Used by `keras_tna.reporting`, `keras_tna.analysis` and the analysis apps, so
every table the package writes has the same shape.
"""

import csv
import io

import numpy as np


def mean_std(values):
    """`(mean, sample std)` of a list (std 0 for one value, ddof=1 otherwise).

    Args:
        values: sequence of float. The values (e.g. one metric over seeds).

    Returns:
        tuple of float `(mean, std)`; `(nan, 0.0)` for no values.

    Examples:

    >>> mean_std([1.0, 3.0])
    (2.0, 1.4142135623730951)
    """
    values = np.asarray(values, np.float64)
    if not values.size:
        return float("nan"), 0.0
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return float(np.mean(values)), std


def format_mean_std(values, digits=4, scale=1.0, suffix=""):
    """A mean ± std cell: `"0.9798 ± 0.0132 (n=3)"`.

    Args:
        values: sequence of float. The values.
        digits: int. Decimals of the mean and std.
        scale: float. Multiply the values first (100 for percent).
        suffix: str. Written after the std (e.g. `"%"`).

    Returns:
        str. Without the std for one value (it has none).

    Examples:

    >>> format_mean_std([0.5, 0.7], digits=2, scale=100, suffix="%")
    '60.00 ± 14.14% (n=2)'
    >>> format_mean_std([0.5], digits=1)
    '0.5 (n=1)'
    """
    mean, std = mean_std(np.asarray(values, np.float64) * scale)
    if len(values) > 1:
        return f"{mean:.{digits}f} ± {std:.{digits}f}{suffix} (n={len(values)})"
    return f"{mean:.{digits}f}{suffix} (n=1)"


def markdown_table(header, rows):
    """A GitHub markdown table as a string.

    Args:
        header: sequence. The column names.
        rows: sequence of sequences. The cells, converted with `str`.

    Returns:
        str, one line per row, without a trailing newline.

    Examples:

    >>> print(markdown_table(["a", "b"], [[1, 2]]))
    | a | b |
    |---|---|
    | 1 | 2 |
    """
    lines = [
        "| " + " | ".join(str(h) for h in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def csv_text(records, fieldnames=None, lineterminator="\r\n"):
    """CSV text of records: a header line, then one line per record.

    Args:
        records: list of dict. The rows; missing keys are left empty.
        fieldnames: list of str or None. The columns; default: the first
            record's keys.
        lineterminator: str. The end of each line (the `csv` module's
            default, "\\r\\n", unless given).

    Returns:
        str.

    Examples:

    >>> csv_text([{"a": 1, "b": 2}, {"a": 3}])
    'a,b\\r\\n1,2\\r\\n3,\\r\\n'
    """
    if fieldnames is None:
        fieldnames = list(records[0])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, restval="",
                            lineterminator=lineterminator)
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()
