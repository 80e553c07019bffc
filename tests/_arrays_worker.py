"""Runs the TensorFlow-free data path with TensorFlow's import blocked.

`KERAS_BACKEND=jax (or torch) python tests/_arrays_worker.py FOLDER CACHE_DIR OUT.npz`:
loads `digits` and `folder:FOLDER` with `keras_tna.data.load_arrays`, saves
some batches to `OUT.npz` (for comparison with another backend), trains a
small TwinModel one epoch on digits and prints a JSON line of findings.
"""

import sys

if __name__ == "__main__":
    # Before anything imports it: every `import tensorflow` now raises
    # ImportError. (Imported as a module by the test, it blocks nothing.)
    sys.modules["tensorflow"] = None

import json  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_tna  # noqa: E402
from keras_tna.data import load_arrays  # noqa: E402


def small_net(input_shape, seed):
    init = keras.initializers.GlorotUniform(seed)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu",
                                kernel_initializer=init),
            keras.layers.Flatten(),
            keras.layers.Dense(10, kernel_initializer=init),
        ]
    )


def large_images_batch():
    """A batch with the random-resized crop (images larger than 64 pixels)."""
    from keras_tna.data import arrays, source

    images = np.random.default_rng(0).integers(0, 256, (6, 72, 72, 3), dtype=np.uint8)
    data = arrays.ArrayDataset(
        images, np.arange(6), 6, mean=(0.5,) * 3, std=(0.25,) * 3, shuffle=True, seed=1,
        augmentation=source.Augmentation("resized_crop", flip=True),
    )
    return data[0]


def main(folder, cache_dir, out):
    record = {}
    devices = {}
    for tag, name, batch_size in (("digits", "digits", 128), ("folder", f"folder:{folder}", 4)):
        bundle = load_arrays(name, batch_size=batch_size, seed=3, cache_dir=cache_dir)
        x, y = bundle.train[0]
        devices[tag] = type(x).__module__.split(".")[0]
        record[f"{tag}_e0"] = np.asarray(x)
        record[f"{tag}_e0_labels"] = np.asarray(y)
        bundle.train.on_epoch_end()
        record[f"{tag}_e1"] = np.asarray(bundle.train[0][0])
        record[f"{tag}_test"] = np.concatenate(
            [np.asarray(bundle.test[i][0]) for i in range(len(bundle.test))]
        )
    record["resized_crop"] = np.asarray(large_images_batch()[0])
    np.savez(out, **record)

    digits = load_arrays("digits", batch_size=128, seed=0)
    base = small_net(digits.input_shape, 0)
    model = keras_tna.TwinModel(base, keras_tna.make_twin(base), alpha=5e-3)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2), twin_optimizer=keras.optimizers.Adam(1e-2)
    )
    before = model.evaluate(digits.test, verbose=0, return_dict=True)
    history = model.fit(digits.train, validation_data=digits.test, epochs=1, verbose=0)
    print(
        json.dumps(
            {
                "backend": keras.backend.backend(),
                "batch_types": devices,
                "tensorflow_modules": sorted(
                    k for k, v in sys.modules.items()
                    if v is not None and k.split(".")[0] == "tensorflow"
                ),
                "before": before,
                "history": {k: v[-1] for k, v in history.history.items()},
                "epochs_served": digits.train.epoch,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
