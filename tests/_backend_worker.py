"""Saves or checks a trained TwinModel under the backend in KERAS_BACKEND.

`python tests/_backend_worker.py save DIR`: trains a small TwinModel two epochs,
saves `DIR/twin.keras`, `DIR/base.keras` and the expected values `DIR/ref.npz`
(weights, both optimizers' variables, predictions, and the weights after one
more epoch of the saved model).
`python tests/_backend_worker.py load DIR`: loads both files, compares, trains
the loaded model one more epoch and compares again (lost optimizer state, e.g.
SGD momentum, would change that epoch).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_tna import TwinModel  # noqa: E402


def net(seed):
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu",
                               kernel_initializer=keras.initializers.GlorotUniform(seed)),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(3, kernel_initializer=keras.initializers.GlorotUniform(seed + 1)),
        ]
    )


def values(model, x):
    out = {f"w{i}": np.asarray(w) for i, w in enumerate(model.get_weights())}
    for tag, opt in (("b", model.base_optimizer), ("t", model.twin_optimizer)):
        out.update({f"{tag}{i}": np.asarray(v) for i, v in enumerate(opt.variables)})
    out["pred"] = np.asarray(model.predict(x, verbose=0))
    return out


def resume(model, x, y):
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)


def main(mode, directory):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.integers(0, 3, 32).astype("int32")
    if mode == "save":
        model = TwinModel(net(0), net(10), alpha=0.3)
        model.compile(
            optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
            twin_optimizer=keras.optimizers.Adam(1e-2),
        )
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        model.save(os.path.join(directory, "twin.keras"))
        model.base.save(os.path.join(directory, "base.keras"))
        ref = values(model, x)
        resume(model, x, y)
        ref.update({f"next{i}": w for i, w in enumerate(model.get_weights())})
        np.savez(os.path.join(directory, "ref.npz"), **ref)
        return
    ref = np.load(os.path.join(directory, "ref.npz"))
    model = keras.saving.load_model(os.path.join(directory, "twin.keras"))
    got = values(model, x)
    expected = [key for key in ref.files if not key.startswith("next")]
    assert sorted(got) == sorted(expected), (sorted(got), expected)
    for key in expected:
        np.testing.assert_allclose(got[key], ref[key], atol=1e-5, err_msg=key)
    resume(model, x, y)
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(w, ref[f"next{i}"], atol=1e-4, err_msg=f"next{i}")
    base = keras.saving.load_model(os.path.join(directory, "base.keras"))
    np.testing.assert_allclose(base.predict(x, verbose=0), ref["pred"], atol=1e-5)
    print("ok", keras.backend.backend())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
