"""The tiny networks of the bad-input tests and of the sweep behind docs/reliability.md.

`tests/test_twin_model_inputs.py` and `tests/_reliability_sweep.py` (which also
runs against older keras_tna checkouts) both build their networks here.
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
