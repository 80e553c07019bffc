"""The training methods of the paper, as objects: the only place a method branches.

A run's `method` is a name in `METHODS`; code that needs to know what a method
does (train a twin? which field is its matching weight? how is it labelled in
a table? which CKA pairs does it give?) asks its `Method` object here instead
of testing the name. A new method is one entry of `METHODS`.

`results.json`'s `alpha` is the matching weight the run trained with
(`Method.effective_alpha`): the `alpha` flag for TNA and the frozen twin,
`dml_alpha` for DML, 0 for the ensemble of two singles, None for a single
network.
"""

import dataclasses

# The paper saw training fail to converge from this alpha up (Table 7).
DIVERGENCE_ALPHA = 5e-2


def divergence_warning(alphas):
    """The warning for the largest of `alphas` from `DIVERGENCE_ALPHA` up, else None.

    Args:
        alphas: list of float. The values of the `alpha` setting that a run
            or a sweep trains with.

    Examples:

    >>> divergence_warning([5e-3]) is None
    True
    >>> divergence_warning([5e-3, 0.1])[:30]
    'Warning: alpha=0.1 >= 0.05, wh'
    """
    alpha = max(alphas)
    if alpha < DIVERGENCE_ALPHA:
        return None
    return (
        f"Warning: alpha={alpha:g} >= {DIVERGENCE_ALPHA:g}, where the paper saw training "
        "fail to converge; a divergence stops the run early."
    )


@dataclasses.dataclass(frozen=True)
class Method:
    """A training method of the paper: what `train` does and how it is shown.

    Args:
        name: str. The method's name (`TrainConfig.method`, `results.json`).
        description: str. One line for `--help` and the run's header.
        label: str. The name in tables and plots (`"TNA"`).
        twin: bool. Whether a twin network is trained (or loaded) beside the base.
        matching: str or None. The `TwinModel` matching loss.
        freeze_twin: bool. The twin is a pretrained network loaded from
            `TrainConfig.twin_checkpoint` and never updated.
        alpha_field: str or None. The `TrainConfig` field holding this
            method's matching weight; None with a twin means alpha = 0.
        uses: tuple of str. The `TrainConfig` fields that only this kind of
            method reads (a run's identity ignores the others).
        cka_vs_single: str or None. The kind of CKA pair (paper Table 5) that
            this method's base forms with a single run's base.
        cka_within: str or None. The kind of CKA pair formed by the base and
            the twin of one run of this method.
        network_names: tuple of two str. What the method calls its two
            networks in labels (`("base", "twin")`; DML's `("A", "B")`).
        ensembled: bool. What the method keeps for inference is the ensemble
            of its two networks (averaged logits), not the base.

    Examples:

    >>> METHODS["dml"].effective_alpha({"alpha": 5e-3, "dml_alpha": 1.0})
    1.0
    >>> get("ensemble").effective_alpha({"alpha": 5e-3})
    0.0
    """

    name: str
    description: str
    label: str
    twin: bool = False
    matching: str = None
    freeze_twin: bool = False
    alpha_field: str = None
    uses: tuple = ()
    cka_vs_single: str = None
    cka_within: str = None
    network_names: tuple = ("base", "twin")
    ensembled: bool = False

    @property
    def matches(self):
        """Whether the method has a matching weight that can vary (alpha, start)."""
        return self.twin and self.alpha_field is not None

    @property
    def is_baseline(self):
        """The single network every other method is compared with."""
        return not self.twin

    @property
    def accuracy_key(self):
        """The `results.json` accuracy of what the method keeps for inference."""
        return "ensemble_accuracy" if self.ensembled else "base_accuracy"

    @property
    def networks_kept(self):
        """How many networks run at inference: both for an ensemble, else the base."""
        return 2 if self.ensembled else 1

    def effective_alpha(self, values):
        """The matching weight a run of this method trains with.

        Args:
            values: mapping or object. The run's settings (a `TrainConfig`,
                or a dict of its fields).

        Returns:
            float, or None for a method without a twin.
        """
        if not self.twin:
            return None
        if self.alpha_field is None:
            return 0.0
        if isinstance(values, dict):
            return float(values[self.alpha_field])
        return float(getattr(values, self.alpha_field))

    def twin_label(self, twin_model, model, twin_reinit=None):
        """How a table names this run's twin: None for an independent copy of the base's network.

        Args:
            twin_model: str or None. The twin's network (`results.json`).
            model: str. The base's network.
            twin_reinit: str or None. How the twin started (`"all"`, `"none"`
                or layer names; None in runs written before it existed).

        Examples:

        >>> get("tna").twin_label("convnet", "convnet", "block_1")
        '= base, block_1 re-init'
        >>> get("tna").twin_label("resnet34", "resnet18")
        'resnet34'
        """
        if self.freeze_twin:
            return "frozen"
        if twin_reinit == "none":
            return "= base"
        if twin_reinit not in (None, "all"):
            return f"= base, {twin_reinit} re-init"
        return twin_model if twin_model not in (None, model) else None


METHODS = {
    m.name: m
    for m in (
        Method(
            "single",
            "one network, cross-entropy only (the baseline)",
            "Single",
            cka_vs_single="Single vs Single",
        ),
        Method(
            "tna",
            "Twin Network Augmentation: base + twin, logit L2 matching",
            "TNA",
            twin=True,
            matching="tna",
            alpha_field="alpha",
            uses=("twin_model", "twin_reinit", "matching_start_epoch", "alpha"),
            cka_vs_single="TNA vs Single",
            cka_within="Base vs Twin",
        ),
        Method(
            "dml",
            "Deep Mutual Learning: base + twin, mutual KL on probabilities",
            "DML",
            twin=True,
            matching="dml",
            alpha_field="dml_alpha",
            uses=(
                "twin_model", "twin_reinit", "matching_start_epoch", "temperature",
                "dml_alpha",
            ),
            cka_within="DML A vs DML B",
            network_names=("A", "B"),
        ),
        Method(
            "frozen_twin",
            "a pretrained frozen twin loaded from --twin_checkpoint (Fig. 4)",
            "Frozen twin",
            twin=True,
            matching="tna",
            freeze_twin=True,
            alpha_field="alpha",
            uses=("twin_checkpoint", "matching_start_epoch", "alpha"),
        ),
        Method(
            "ensemble",
            "two independent networks (alpha = 0), ensembled (Table 3)",
            "2 singles",
            twin=True,
            matching="tna",
            uses=("twin_model", "twin_reinit"),
            ensembled=True,
        ),
    )
}
BASELINE = METHODS["single"]
TNA = METHODS["tna"]
# Fields read by some methods only.
METHOD_ONLY_FIELDS = tuple(sorted({f for m in METHODS.values() for f in m.uses}))


def get(name):
    """The `Method` of a name.

    Args:
        name: str. One of `METHODS`.

    Returns:
        `Method`.

    Raises:
        ValueError: an unknown name.

    Examples:

    >>> get("tna").label
    'TNA'
    """
    if name not in METHODS:
        raise ValueError(
            f"Unknown method {name!r}: use one of {sorted(METHODS)}. "
            f"Received: method={name!r}"
        )
    return METHODS[name]


def describe(name):
    """The `Method` of a name read from a results file; unknown names get a plain one.

    Reports and analyses read runs written by other versions: an unknown
    method is shown under its own name, after the known ones.

    Args:
        name: str. A method name.

    Returns:
        `Method`.

    Examples:

    >>> describe("boosting").label
    'boosting'
    """
    if name in METHODS:
        return METHODS[name]
    return Method(str(name), "", str(name), twin=True)


def order(name):
    """Sort key of a method: the order of `METHODS`, unknown names last.

    Examples:

    >>> sorted(["tna", "x", "single"], key=order)
    ['single', 'tna', 'x']
    """
    names = list(METHODS)
    return names.index(name) if name in names else len(names)


def label(name):
    """Display name of a method ("tna" -> "TNA"); unknown names as they are."""
    return describe(name).label


def check_names(names):
    """Raises ValueError unless every name is a method.

    Args:
        names: list of str.
    """
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise ValueError(
            f"Unknown method(s) {unknown}: use {sorted(METHODS)}. "
            f"Received: {list(names)}"
        )
