"""Training runs as a library: `TrainConfig`, `train` and `sweep`.

`apps/train.py` turns its flags into a `TrainConfig` and calls `train` (one run)
or `sweep` (methods x seeds x alphas x matching start epochs); notebooks call
the same functions. Where things live:

- `keras_tna.settings`: every setting (type, bounds, default, help) and the
  constants of a run (`SMOKE_EPOCHS`, `TWIN_SEED_OFFSET`, ...);
  `keras_tna.runs.config`: `TrainConfig` (public here as
  `keras_tna.training.TrainConfig`); `keras_tna.runs.validation`: the checks
  that need registries; `keras_tna.runs.layout`: the files of a run directory;
  `keras_tna.methods`: the methods; `keras_tna.initializers`: initializers.
- `keras_tna.training.optimizers`: `learning_rate_schedule`, `make_optimizer`.
- `keras_tna.training.resume`: new / resume / done, the epoch stream.
- `keras_tna.training.run`: `train`; `keras_tna.training.sweeps`: `sweep`.
- `keras_tna.training.networks`: the networks a run builds and compiles
  (`load_frozen_twin`); `keras_tna.training.console`: what a run prints.

`import keras_tna.training` does not import TensorFlow: `train`, `sweep` and
the other names of `run.py`, `networks.py` and `sweeps.py` (which run on
tf.data and tf.distribute) are loaded on first use.

Examples:

```python
from keras_tna import training
config = training.TrainConfig(dataset="digits", image_size=32, epochs=10,
                              output_dir="runs/quickstart")
results = training.sweep(config, methods=["single", "tna"], seeds=[0, 1, 2])
```
"""

from keras_tna.lazy import lazy_attributes
from keras_tna.runs.config import TrainConfig
from keras_tna.training.resume import check_run_dir

# Loaded on first use: these modules import Keras (and so TensorFlow).
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "keras_tna.training.optimizers": ("learning_rate_schedule", "make_optimizer"),
        "keras_tna.training.networks": ("load_frozen_twin",),
        "keras_tna.training.run": ("train", "versions"),
        "keras_tna.training.sweeps": ("sweep", "sweep_configs", "run_name"),
    },
    globals(),
)

__all__ = [
    "TrainConfig",
    "check_run_dir",
    "learning_rate_schedule",
    "load_frozen_twin",
    "make_optimizer",
    "run_name",
    "sweep",
    "sweep_configs",
    "train",
    "versions",
]
