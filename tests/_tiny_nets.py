"""The tiny networks (and toy data) of the tests and of the sweep behind docs/reliability.md.

`tests/checks/test_twin_model_inputs.py` and `tests/_reliability_sweep.py` (which also
runs against older keras_tna checkouts) build their networks here;
`tests/backend/test_backends.py` takes `mlp` and `toy_classification`.
"""

import keras

D, C = 5, 4  # input width and classes of `dense`; classes of `conv`


def dense(seed=0, d=D, c=C, softmax=False):
    """One Dense layer on `(d,)` inputs: `c` logits (or a softmax)."""
    return keras.Sequential([
        keras.Input((d,)),
        keras.layers.Dense(c, activation="softmax" if softmax else None,
                           kernel_initializer=keras.initializers.GlorotUniform(seed)),
    ])


def conv(seed=0, shape=(6, 6, 3)):
    """A Conv2D, global pooling and `C` logits on images of `shape`."""
    return keras.Sequential([
        keras.Input(shape),
        keras.layers.Conv2D(2, 3, kernel_initializer=keras.initializers.GlorotUniform(seed)),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(C),
    ])


def mlp(seed=0, d=6, hidden=8, c=3):
    """Dense(hidden, relu) then `c` logits on `(d,)` inputs, both seeded."""
    init = keras.initializers.GlorotUniform
    return keras.Sequential([
        keras.Input((d,)),
        keras.layers.Dense(hidden, activation="relu", kernel_initializer=init(seed)),
        keras.layers.Dense(c, kernel_initializer=init(seed + 1)),
    ])


def toy_classification(n=32, d=6, c=3, seed=0):
    """`(x, y)`: `n` normal float32 rows of width `d`, int32 labels in [0, c)."""
    import numpy as np  # numpy only where the data is asked for

    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype("float32"), rng.integers(0, c, n).astype("int32")
