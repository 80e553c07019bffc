"""Analyses of trained networks (paper sec. 4.3): CKA, linear probes, corruptions.

Examples:

```python
from keras_tna import analysis
base = analysis.load_network("runs/tna_s0/base.keras")
twin = analysis.load_network("runs/tna_s0/twin.keras")
analysis.compare_networks(base, twin, test_ds).diagonal()
analysis.linear_probes(base, train_ds, test_ds).val_accuracy
analysis.evaluate_corruptions(base, analysis.TFDSCorruptions(), bundle.normalize)
```
"""

from keras_tna import tf_logs
from keras_tna.lazy import lazy_attributes
from keras_tna.runs.store import Run, find_runs, load_network, read_run

# Loaded on first use: cka, common, probes and corruptions import Keras (and
# so TensorFlow); `import keras_tna.analysis` and its light submodules
# (corruption_catalog) stay fast, so the analysis programs' --help does too.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "keras_tna.analysis.cka": ("CKAResult", "MinibatchCKA", "compare_networks", "linear_cka"),
        "keras_tna.analysis.common": (
            "Accuracy", "Evaluator", "feature_model", "resolve_layer_names"),
        "keras_tna.analysis.corruption_catalog": (
            "COMMON_CORRUPTIONS", "CORRUPTIONS", "EXTRA_CORRUPTIONS", "SEVERITIES",
            "corrupt_images", "get_corruption"),
        "keras_tna.analysis.corruption_sources": (
            "ArrayFolderCorruptions", "CorruptionSource", "GeneratedCorruptions",
            "ImageFolderCorruptions", "TFDSCorruptions"),
        "keras_tna.analysis.corruptions": (
            "CorruptionResult", "corruption_errors", "evaluate_corruptions"),
        "keras_tna.analysis.probes": (
            "ProbeResult", "linear_probes", "pooled_features", "train_probes"),
    },
    globals(),
    submodules=("cka", "common", "corruption_catalog", "corruption_sources", "corruptions",
                "plots", "probes", "run_data"),
    # These names load Keras: TensorFlow's start-up notices are dropped first.
    before_import=tf_logs.quiet_tensorflow_start,
)

__all__ = [
    "COMMON_CORRUPTIONS",
    "CORRUPTIONS",
    "EXTRA_CORRUPTIONS",
    "SEVERITIES",
    "Accuracy",
    "ArrayFolderCorruptions",
    "CorruptionResult",
    "CorruptionSource",
    "GeneratedCorruptions",
    "ImageFolderCorruptions",
    "ProbeResult",
    "TFDSCorruptions",
    "CKAResult",
    "Evaluator",
    "MinibatchCKA",
    "Run",
    "compare_networks",
    "corrupt_images",
    "corruption_errors",
    "evaluate_corruptions",
    "feature_model",
    "find_runs",
    "get_corruption",
    "linear_cka",
    "linear_probes",
    "load_network",
    "pooled_features",
    "read_run",
    "resolve_layer_names",
    "train_probes",
]
