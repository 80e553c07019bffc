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

from keras_tna.analysis.cka import CKAResult, MinibatchCKA, compare_networks, linear_cka
from keras_tna.analysis.common import (
    Accuracy,
    Evaluator,
    feature_model,
    resolve_layer_names,
)
from keras_tna.analysis.corruption_catalog import (
    COMMON_CORRUPTIONS,
    CORRUPTIONS,
    EXTRA_CORRUPTIONS,
    SEVERITIES,
    corrupt_images,
    get_corruption,
)
from keras_tna.analysis.corruption_sources import (
    ArrayFolderCorruptions,
    CorruptionSource,
    GeneratedCorruptions,
    ImageFolderCorruptions,
    TFDSCorruptions,
)
from keras_tna.analysis.corruptions import (
    CorruptionResult,
    corruption_errors,
    evaluate_corruptions,
)
from keras_tna.analysis.probes import ProbeResult, linear_probes, pooled_features, train_probes
from keras_tna.runs.store import Run, load_network, read_run

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
    "get_corruption",
    "linear_cka",
    "linear_probes",
    "load_network",
    "pooled_features",
    "read_run",
    "resolve_layer_names",
    "train_probes",
]
