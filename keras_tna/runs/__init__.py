"""Training runs as records: the output-directory contract, the config, the reader.

- `keras_tna.runs.layout`: which files a run writes, the keys of `results.json`.
- `keras_tna.runs.record`: `RunRecord`, the one owner of a run directory (every
  write atomic, checkpoint units, the lock of `keras_tna.runs.lock`);
  `keras_tna.runs.reading`: reading its files back (the newest checkpoint,
  the older format, one error for a damaged file).
- `keras_tna.runs.collapse`: the rule that flags a collapsed (finite) run.
- `keras_tna.runs.config`: `TrainConfig` (public as `keras_tna.training.TrainConfig`),
  the one validation of a run's settings; `keras_tna.runs.validation`: its
  checks that need a registry, a file or several settings.
- `keras_tna.runs.store`: finding and reading runs (`collect`; public
  elsewhere: `keras_tna.analysis.find_runs`, `keras_tna.analysis.Run`,
  `keras_tna.analysis.read_run`, `keras_tna.analysis.load_network`,
  `keras_tna.reporting.read_history`).

None of it imports TensorFlow.

Examples:

```python
from keras_tna import runs
results = runs.collect(["runs/quickstart"])
```
"""

from keras_tna.runs import (
    collapse, config, layout, lock, reading, record, store, validation,
)
from keras_tna.runs.store import collect

__all__ = [
    "collapse",
    "collect",
    "config",
    "layout",
    "lock",
    "reading",
    "record",
    "store",
    "validation",
]
