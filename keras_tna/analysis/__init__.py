"""Analyses of trained networks (paper sec. 4.3): CKA, linear probes, corruptions.

Examples:

```python
from keras_tna import analysis
base = analysis.load_network("runs/tna_s0/base.keras")
twin = analysis.load_network("runs/tna_s0/twin.keras")
analysis.compare_networks(base, twin, test_ds).diagonal()
```
"""

from keras_tna.analysis.cka import CKAResult, MinibatchCKA, compare_networks, linear_cka
from keras_tna.analysis.common import (
    Accuracy,
    Evaluator,
    Run,
    feature_model,
    load_network,
    read_run,
    resolve_layer_names,
)

__all__ = [
    "Accuracy",
    "CKAResult",
    "Evaluator",
    "MinibatchCKA",
    "Run",
    "compare_networks",
    "feature_model",
    "linear_cka",
    "load_network",
    "read_run",
    "resolve_layer_names",
]
