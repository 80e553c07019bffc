"""Training runs as records: the output-directory contract, the config, the reader.

- `keras_tna.runs.layout`: which files a run writes, the keys of `results.json`.
- `keras_tna.runs.record`: `RunRecord`, the one owner of a run directory (every
  write atomic, checkpoint units, the lock of `keras_tna.runs.lock`).
- `keras_tna.runs.collapse`: the rule that flags a collapsed (finite) run.
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

from keras_tna.runs import collapse, config, layout, lock, record, store, validation
from keras_tna.runs.store import Run, collect, find_runs, load_network, read_history, read_run

__all__ = [
    "Run",
    "collapse",
    "collect",
    "config",
    "find_runs",
    "layout",
    "lock",
    "load_network",
    "read_history",
    "read_run",
    "record",
    "store",
    "validation",
]
