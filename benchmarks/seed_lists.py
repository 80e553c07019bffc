"""Seed lists on the command line of the benchmark scripts (no TensorFlow)."""


def parse_seeds(text):
    """`"0-3,7"` -> `[0, 1, 2, 3, 7]`.

    Examples:

    >>> parse_seeds("0-3,7")
    [0, 1, 2, 3, 7]
    """
    seeds = []
    for part in text.split(","):
        if "-" in part:
            low, high = part.split("-")
            seeds += list(range(int(low), int(high) + 1))
        elif part:
            seeds.append(int(part))
    return seeds
