"""Corruption robustness (Hendrycks & Dietterich 2019; the paper's Table 6).

A network is evaluated on the 15 common corruptions x 5 severities; per
corruption the score is the mean over severities. Corrupted images come from
a `CorruptionSource`:

- `TFDSCorruptions`: TFDS `cifar10_corrupted` (released CIFAR-10-C; TFDS
  spells two names differently: `frosted_glass_blur` is `glass_blur`,
  `elastic` is `elastic_transform`).
- `ArrayFolderCorruptions`: the released CIFAR-10-C / CIFAR-100-C folder,
  `<root>/<corruption>.npy` (5 x n images, severity 1 first) + `labels.npy`.
- `ImageFolderCorruptions`: the released TinyImageNet-C / ImageNet-C folder,
  `<root>/<corruption>/<severity>/<class>/<image>`.
- `GeneratedCorruptions`: corruptions generated from any test set with
  `imagecorruptions-imaug` (the ImageNet-C code), seeded, cached as `.npy`,
  and labelled "generated": their severities are ImageNet-C's, not those of
  the released CIFAR-10-C / TinyImageNet-C, so their numbers are not
  comparable with numbers on the released sets.

The four further corruptions of the released sets (speckle_noise,
gaussian_blur, spatter, saturate; Hendrycks & Dietterich's validation
corruptions) are in the registry and can be evaluated by name, but the
averages and the mCE use only the 15 common ones, as the paper does.
"""

import numpy as np

from keras_tna.analysis import common
from keras_tna.analysis.corruption_catalog import (
    COMMON_CORRUPTIONS,
    SEVERITIES,
    _check_severity,
    get_corruption,
)
from keras_tna.analysis.corruption_sources import CorruptionSource
from keras_tna.runs import store


class CorruptionResult:
    """Scores of one network on corrupted variants of a test set.

    Attributes:
        scores: dict `{(corruption, severity): {metric: value}}`.
        clean: dict `{metric: value}` on the clean test set, or None.
        metric: str, the metric summarised (default "accuracy").
        kind: "released" or "generated".
        description: str, where the corrupted images came from.
    """

    def __init__(self, scores, clean, metric, kind, description):
        self.scores = dict(scores)
        self.clean = clean
        self.metric = metric
        self.kind = kind
        self.description = description

    @property
    def corruptions(self):
        seen = []
        for c, _ in self.scores:
            if c not in seen:
                seen.append(c)
        return seen

    def value(self, corruption, severity):
        return float(self.scores[(corruption, severity)][self.metric])

    def per_corruption(self):
        """`{corruption: mean over severities}` (Table 6's entries)."""
        out = {}
        for c in self.corruptions:
            values = [v[self.metric] for (name, _), v in self.scores.items() if name == c]
            out[c] = float(np.mean(values))
        return out

    def mean(self, corruptions=COMMON_CORRUPTIONS):
        """Mean over the given corruptions (default: the 15 common ones present)."""
        per = self.per_corruption()
        values = [per[c] for c in corruptions if c in per]
        if not values:
            raise ValueError("No scores for the requested corruptions.")
        return float(np.mean(values))

    def errors(self):
        """`{(corruption, severity): 1 - accuracy}`."""
        return {key: 1.0 - float(v[self.metric]) for key, v in self.scores.items()}

    def __repr__(self):
        clean = f", clean {self.clean[self.metric]:.4f}" if self.clean else ""
        return (
            f"CorruptionResult({len(self.scores)} variants, mean {self.metric} "
            f"{self.mean():.4f}{clean}, {self.kind})"
        )


def corruption_errors(errors, reference_errors=None, clean_error=None, reference_clean_error=None):
    """Corruption error CE_c per corruption (Hendrycks & Dietterich 2019).

    Args:
        errors: dict `{(corruption, severity): error}` of the network (error =
            1 - top-1 accuracy), e.g. `CorruptionResult.errors()`.
        reference_errors: dict like `errors` of the reference network, or
            None. With it, `CE_c = sum_s E_{s,c} / sum_s E_{s,c}(reference)`
            (Hendrycks & Dietterich normalise by AlexNet; this package's apps
            normalise by the single-trained baseline, since no AlexNet errors
            exist for CIFAR or TinyImageNet). Without it, `CE_c` is the
            unnormalised mean error over severities.
        clean_error: float or None. With `reference_clean_error`, gives the
            relative CE: `sum_s (E_{s,c} - E_clean) / sum_s (E_{s,c}(ref) -
            E_clean(ref))`.
        reference_clean_error: float or None.

    Returns:
        dict `{corruption: CE}`; the mCE is the mean over corruptions.

    Examples:

    >>> e = {("fog", 1): 0.25, ("fog", 2): 0.5}
    >>> ref = {("fog", 1): 0.5, ("fog", 2): 0.5}
    >>> corruption_errors(e, ref)
    {'fog': 0.75}
    >>> corruption_errors(e)
    {'fog': 0.375}
    """
    names = []
    for c, _ in errors:
        if c not in names:
            names.append(c)
    relative = clean_error is not None or reference_clean_error is not None
    if relative and (clean_error is None or reference_clean_error is None or reference_errors is None):
        raise ValueError(
            "The relative CE needs `reference_errors`, `clean_error` and "
            "`reference_clean_error`."
        )
    out = {}
    for c in names:
        severities = sorted(s for name, s in errors if name == c)
        own = [errors[(c, s)] for s in severities]
        if reference_errors is None:
            out[c] = float(np.mean(own))
            continue
        missing = [s for s in severities if (c, s) not in reference_errors]
        if missing:
            raise ValueError(
                f"The reference has no error for {c} at severities {missing}; "
                "evaluate both networks on the same variants."
            )
        ref = [reference_errors[(c, s)] for s in severities]
        if relative:
            numerator = sum(e - clean_error for e in own)
            denominator = sum(e - reference_clean_error for e in ref)
        else:
            numerator, denominator = sum(own), sum(ref)
        out[c] = float(numerator / denominator) if denominator else float("nan")
    return out


def evaluate_corruptions(
    model,
    source,
    normalize,
    corruptions=COMMON_CORRUPTIONS,
    severities=SEVERITIES,
    clean=None,
    evaluator=None,
    metric="accuracy",
    batch_size=256,
    class_names=None,
):
    """Evaluates a network on corrupted variants of its test set.

    Args:
        model: keras.Model, a classifier (logits out).
        source: `CorruptionSource`, where the corrupted images come from.
        normalize: callable mapping uint8 images to the network's input
            (e.g. `keras_tna.data.load(name, ...).normalize`, the normalisation
            the network was trained with).
        corruptions: sequence of str (canonical or TFDS names); default the
            15 common corruptions.
        severities: sequence of ints in 1..5.
        clean: `(images uint8, labels)` of the clean test set, or None.
        evaluator: `Evaluator` or None (top-1 `Accuracy`).
        metric: str, the evaluator's key that is summarised.
        batch_size: int, evaluation batch size.
        class_names: sequence of str or None, the network's dataset's class
            names; checked against `source.class_names` when both are known.

    Returns:
        A `CorruptionResult`.

    Examples:

    ```python
    bundle = keras_tna.data.load("cifar10", batch_size=256)
    result = evaluate_corruptions(base, TFDSCorruptions(), bundle.normalize,
                                  class_names=bundle.class_names)
    result.per_corruption()["fog"], result.mean()
    ```
    """
    store.check_model(model)
    if not isinstance(source, CorruptionSource):
        raise TypeError(
            "`source` must be a CorruptionSource (TFDSCorruptions, "
            "ArrayFolderCorruptions, ImageFolderCorruptions, GeneratedCorruptions). "
            f"Received: {type(source).__name__}"
        )
    if not callable(normalize):
        raise TypeError(f"`normalize` must be callable. Received: {normalize!r}")
    if isinstance(corruptions, str):
        raise TypeError(f"`corruptions` must be a list of names. Received: {corruptions!r}")
    names = [get_corruption(c).name for c in corruptions]
    for s in severities:
        _check_severity(s)
    missing = [c for c in names if c not in source.available()]
    if missing:
        raise ValueError(
            f"{source.description} has no {missing}. Available: {source.available()}"
        )
    if (
        class_names is not None
        and source.class_names is not None
        and tuple(class_names) != tuple(source.class_names)
    ):
        raise ValueError(
            "The corrupted set's classes differ from the network's dataset's "
            f"(mismatched datasets). Network: {tuple(class_names)[:10]}...; "
            f"corruptions: {tuple(source.class_names)[:10]}..."
        )
    evaluator = evaluator or common.Accuracy(batch_size=batch_size)

    def run(images, labels):
        images = np.asarray(images)
        batches = (
            (normalize(images[s : s + batch_size]), labels[s : s + batch_size])
            for s in range(0, len(images), batch_size)
        )
        scores = evaluator(model, batches)
        if metric not in scores:
            raise ValueError(
                f"The evaluator returned {sorted(scores)}, without {metric!r}; "
                "pass `metric=` naming one of its keys."
            )
        return scores

    clean_scores = run(*clean) if clean is not None else None
    source.prepare([(c, s) for c in names for s in severities])
    scores = {}
    for c in names:
        for s in severities:
            scores[(c, s)] = run(*source.load(c, s))
    return CorruptionResult(scores, clean_scores, metric, source.kind, source.description)
