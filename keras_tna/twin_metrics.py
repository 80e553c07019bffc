"""TwinModel's metrics: the loss terms, accuracies and the user's compiled metrics.

`TwinMetrics` owns every metric a `TwinModel` reports: the loss terms, base /
twin / ensemble accuracy, and each metric given to `compile(metrics=...)` or
`compile(weighted_metrics=...)`, once per network (`base_<name>`,
`twin_<name>`, `ensemble_<name>`; the ensemble averages the two networks'
logits). Each carries the direction Keras' `EarlyStopping`, `ModelCheckpoint`
and `ReduceLROnPlateau` read with `mode="auto"` (losses down, accuracies up,
a user's metric its own).
"""

import keras
from keras import ops

from keras_tna.labels import class_ids

try:
    # Keras' callbacks read a metric's direction (mode="auto") only from members
    # of this container, which keras 3.15 exports under no public name.
    from keras.src.trainers.compile_utils import MetricsList
except ImportError:  # a Keras that moved it: mode="auto" then needs an explicit mode

    class MetricsList(keras.metrics.Metric):
        def __init__(self, metrics, name="metrics_list"):
            super().__init__(name=name)

LOSS_NAMES = ("loss", "base_loss", "twin_loss", "matching_loss")
NETWORKS = ("base", "twin", "ensemble")
METRIC_NAMES = LOSS_NAMES + tuple(f"{n}_accuracy" for n in NETWORKS)
# compile(metrics=["accuracy"]) asks for what TwinModel always reports.
_ALREADY_REPORTED = ("accuracy", "acc")


class _Directions(MetricsList):
    """Shows Keras' callbacks the metrics (for their direction); owns no state."""

    def __init__(self, metrics):
        super().__init__([], name="metric_directions")
        object.__setattr__(self, "metrics", list(metrics))  # not tracked: no state

    def result(self):
        return {}

    def reset_state(self):
        pass


class TwinMetrics:
    """The metrics of one TwinModel.

    Examples:

    >>> tm = TwinMetrics()
    >>> tm.set_compiled(metrics=["sparse_top_k_categorical_accuracy"])
    >>> [m.name for m in tm.metrics][-3:]  # doctest: +NORMALIZE_WHITESPACE
    ['base_sparse_top_k_categorical_accuracy',
     'twin_sparse_top_k_categorical_accuracy',
     'ensemble_sparse_top_k_categorical_accuracy']
    """

    def __init__(self):
        self.trackers = {}
        for name in METRIC_NAMES:
            tracker = keras.metrics.Mean(name=name)
            tracker._direction = "down" if name in LOSS_NAMES else "up"
            self.trackers[name] = tracker
        self.set_compiled()

    def set_compiled(self, metrics=None, weighted_metrics=None):
        """Sets the metrics given to `compile`, one copy per network.

        Args:
            metrics: list or None. Keras metrics (objects, names, or functions
                of `(y_true, logits)`), computed on each network's logits
                without sample weights.
            weighted_metrics: list or None. Same, with sample weights.
        """
        user = []  # (network, weighted, metric)
        for weighted, given in ((False, metrics), (True, weighted_metrics)):
            for identifier in _as_list(given, weighted):
                if isinstance(identifier, str) and identifier in _ALREADY_REPORTED:
                    continue
                for network in NETWORKS:
                    user.append((network, weighted, _metric_for(identifier, network)))
        names = list(METRIC_NAMES) + [m.name for _, _, m in user]
        if len(set(names)) != len(names):
            raise ValueError(
                "Two metrics would log under one name; give each compiled metric "
                f"a distinct `name=`. Received: metrics named {names[len(METRIC_NAMES):]}"
            )
        self.user = user
        self.config = {"metrics": metrics, "weighted_metrics": weighted_metrics}
        self.directions = _Directions(self.metrics)

    @property
    def metrics(self):
        """Every metric, in log order (the trackers, then the user's)."""
        return list(self.trackers.values()) + [m for _, _, m in self.user]

    def update(self, terms, y, base_logits, twin_logits, sample_weight, replicas):
        """Updates every metric with one batch; returns the logs."""
        base_logits = ops.cast(base_logits, "float32")
        twin_logits = ops.cast(twin_logits, "float32")
        batch_size = ops.shape(base_logits)[0]
        for name, value in terms.items():
            self.trackers[name].update_state(value * replicas, sample_weight=batch_size)
        logits = {
            "base": base_logits,
            "twin": twin_logits,
            "ensemble": (base_logits + twin_logits) / 2.0,
        }
        labels = class_ids(y, base_logits)
        for network in NETWORKS:
            hits = ops.cast(
                ops.cast(ops.argmax(logits[network], axis=-1), "int32") == labels,
                "float32",
            )
            self.trackers[f"{network}_accuracy"].update_state(
                hits, sample_weight=sample_weight
            )
        for network, weighted, metric in self.user:
            metric.update_state(
                y, logits[network], sample_weight=sample_weight if weighted else None
            )
        logs = {}
        for metric in self.metrics:
            result = metric.result()
            if isinstance(result, dict):
                logs.update(result)
            else:
                logs[metric.name] = result
        return logs


def _as_list(given, weighted):
    if given is None:
        return []
    if isinstance(given, dict):
        role = "weighted_metrics" if weighted else "metrics"
        raise ValueError(
            f"TwinModel has one output (the logits), so `{role}` is a list, "
            f"not a dict. Received: {role}={given!r}"
        )
    return list(given) if isinstance(given, (list, tuple)) else [given]


def _metric_for(identifier, network):
    """A new metric object for one network, named `<network>_<name>`."""
    if isinstance(identifier, keras.metrics.Metric):
        config = identifier.get_config()
        config["name"] = f"{network}_{identifier.name}"
        return identifier.__class__.from_config(config)
    try:
        fn = keras.metrics.get(identifier)
    except (ValueError, TypeError):
        fn = None
    if isinstance(fn, keras.metrics.Metric):
        return _metric_for(fn, network)
    if not callable(fn):
        raise ValueError(
            "`metrics` must hold keras metrics, their names, or functions of "
            "(y_true, logits), e.g. keras.metrics.SparseTopKCategoricalAccuracy"
            f"(k=5). Received: {identifier!r}"
        )
    name = getattr(fn, "__name__", "metric")
    metric = keras.metrics.MeanMetricWrapper(fn, name=f"{network}_{name}")
    metric._direction = _direction_of(name)
    return metric


def _direction_of(name):
    """Keras' own metric classes carry a direction; a function's is read off its name."""
    lower = ("loss", "error", "crossentropy", "divergence", "hinge", "poisson")
    return "down" if any(word in name for word in lower) else "up"
