"""Datasets for TNA training: tf.data pipelines that never starve the model.

`load(name, batch_size=...)` returns a `DatasetBundle` whose `train` and `test`
are batched `tf.data` pipelines of `(float32 normalised image, int32 label)`;
`load_raw(name, split)` returns a split's raw uint8 images for analysis code,
and `DatasetBundle.normalize` applies the same normalisation to them.
`load_arrays(name, batch_size=...)` is the TensorFlow-free path (JAX machines
without TensorFlow): `keras.utils.PyDataset`s, augmented on the accelerator.

Names (`available()`): `digits` (offline default), `cifar10`, `cifar100`,
`imagenet2012`, `cifar10_corrupted/<corruption>_<severity>` (TFDS),
`folder:<path>` (train/<class>/*, test/<class>/*), `tinyimagenet:<path>`.

Examples:

```python
bundle = keras_tna.data.load("folder:~/data/cifar10-jpeg", batch_size=256)
model.fit(bundle.train, validation_data=bundle.test, epochs=200)
images, labels = keras_tna.data.load_raw("folder:~/data/cifar10-jpeg", "test")
x = bundle.normalize(corrupt(images))
```
"""

from keras_tna.data.registry import available
from keras_tna.lazy import lazy_attributes

# The tf.data pipelines import TensorFlow, so they are imported on first use
# (module `__getattr__`): `keras_tna.data.arrays` (`load_arrays`, the
# TensorFlow-free path for JAX machines) must import without TensorFlow.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "keras_tna.data.pipeline": ("DatasetBundle", "load", "load_raw"),
        "keras_tna.data.tfds_sources": (
            "CIFAR10_CORRUPTIONS",
            "CIFAR10_CORRUPTION_SEVERITIES",
        ),
        "keras_tna.data.arrays": ("ArrayBundle", "load_arrays"),
    },
    globals(),
    submodules=("augment",),
)

__all__ = [
    "DatasetBundle",
    "load",
    "load_raw",
    "available",
    "augment",
    "CIFAR10_CORRUPTIONS",
    "CIFAR10_CORRUPTION_SEVERITIES",
    "ArrayBundle",
    "load_arrays",
]
