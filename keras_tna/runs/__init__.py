"""Training runs as records: the output-directory contract, the config, the reader.

- `keras_tna.runs.layout`: which files a run writes, the keys of `results.json`.
- `keras_tna.runs.config`: `TrainConfig` (public as `keras_tna.training.TrainConfig`),
  the one validation of a run's settings; `keras_tna.runs.validation`: its
  checks that need a registry, a file or several settings.
- `keras_tna.runs.store`: finding and reading runs (`collect`, `find_runs`, `Run`).

None of it imports TensorFlow.

Examples:

```python
from keras_tna import runs
found, diverged = runs.find_runs(["runs/quickstart"])
```
"""

from keras_tna.runs import config, layout, store, validation
from keras_tna.runs.store import Run, collect, find_runs, load_network, read_history, read_run

__all__ = [
    "Run",
    "collect",
    "config",
    "find_runs",
    "layout",
    "load_network",
    "read_history",
    "read_run",
    "store",
    "validation",
]
