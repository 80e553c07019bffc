"""Figures for PNG files without switching matplotlib's backend.

`pyplot` with `matplotlib.use("Agg")` would turn off inline plots for the rest
of a notebook session; a `matplotlib.figure.Figure` draws and saves on its own.
"""


def subplots(*args, figsize=None, layout=None, **kwargs):
    """Like `pyplot.subplots`, returning `(figure, axes)` unattached to pyplot.

    Examples:

    >>> fig, axis = subplots(figsize=(3, 2))
    >>> type(fig).__name__
    'Figure'
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, layout=layout)
    return figure, figure.subplots(*args, **kwargs)
