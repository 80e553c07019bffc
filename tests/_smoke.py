"""The smoke-size training run the tests share: `smoke_config(output_dir, **changes)`.

The offline digits at 32x32, the ConvNet, TNA, `smoke=True` (a few steps), lr
0.01, silent. tests/conftest.py trains it once per session (`tna_smoke_run`,
deterministic) for the tests that only read a finished run.
"""

from keras_tna import training


def smoke_config(output_dir, **changes):
    """A `TrainConfig` of the shared smoke run writing to `output_dir`, changed by `changes`."""
    values = dict(dataset="digits", image_size=32, method="tna", smoke=True,
                  verbose=0, learning_rate=0.01, output_dir=str(output_dir))
    values.update(changes)
    return training.TrainConfig(**values)
