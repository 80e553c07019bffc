"""Datasets without TensorFlow: numpy in memory, augmented on the accelerator.

`load_arrays(name, batch_size=...)` is `load`'s twin for machines that carry JAX
(or PyTorch) but not TensorFlow. It reads `digits`, `folder:<path>` and
`tinyimagenet:<path>` (the datasets that need no TFDS), and returns an
`ArrayBundle` whose `train` and `test` are `keras.utils.PyDataset`s:

- Images are decoded once with PIL in a thread pool (JPEG, PNG, BMP, GIF;
  always 3 channels; resized to `image_size` with the same antialiased
  bilinear filter as `tf.image.resize`) and kept in memory as uint8. The
  decoded arrays are cached as `.npy` files under `cache_dir`, keyed by the
  folder, every file's size and modification time and `image_size`, so the
  second load of a folder only reads two files.
- Each batch leaves the host as uint8 (a quarter of float32's bytes) and is
  augmented and normalised on the default device with `keras.ops`, compiled
  with `jax.jit` on the JAX backend. Both networks of a `TwinModel` see the
  same augmented batch, because the batch is augmented before the model.
- Augmentation, normalisation and splits are those of `load`: a random crop
  after zero-padding (4 pixels for 32 and 64 pixel images, 1 for the 8x8
  digits) and a horizontal flip (not for digits); a random-resized crop and
  flip for folders of larger images; per-channel mean/std of the training
  images; the fixed digits split.
- Randomness comes from numpy generators seeded with `(seed, epoch, batch)`:
  the same seed gives the same batches, whatever the backend. The examples are
  reshuffled each epoch (`on_epoch_end`). `fit`'s own `shuffle=True` further
  permutes the batch order with Python's `random`: call
  `keras.utils.set_random_seed` (or pass `shuffle=False`) to fix it too.

What differs from `load`: JPEG files are decoded with libjpeg's accurate
integer IDCT (PIL's default) where `tf.io.decode_image` uses the fast one, so
JPEG pixels differ by a few levels (PNG and other lossless files decode
identically); the random draws differ from the tf.data pipeline's (same
distributions, other generator).

The loaders and the decoded-image cache: `keras_tna.data.array_sources`.
"""

import dataclasses
import os

import keras
import numpy as np
from keras import ops

from keras_tna.data import array_ops
from keras_tna.data import registry
from keras_tna.data import source
from keras_tna.data.array_sources import ArrayOptions, resolve_cache_dir


@dataclasses.dataclass(frozen=True)
class ArrayBundle(source.Bundle):
    """A dataset ready for `fit` without TensorFlow (fields: `source.Bundle`).

    Its `train` is an `ArrayDataset` of `(float32 normalised images, int32
    labels)` batches made on the default device, shuffled with the seed
    (reshuffled each epoch) and augmented; its `test` an `ArrayDataset` in a
    fixed order without augmentation; `name` is as given to `load_arrays`.
    """

    def normalize(self, images):
        """Normalises raw images the way this bundle's batches are.

        Args:
            images: uint8 or float array or tensor, `(..., *input_shape)`,
                pixels in [0, 255]. A numpy array gives a numpy array, a
                tensor a tensor of the current backend.

        Returns:
            float32 images, `(images / 255 - mean) / std`.

        Examples:

        ```python
        bundle = keras_tna.data.load_arrays("digits", batch_size=64)
        x = bundle.normalize(bundle.test.images)  # what model.predict expects
        ```
        """
        mean = np.asarray(self.mean, np.float32)
        std = np.asarray(self.std, np.float32)
        if isinstance(images, np.ndarray):
            return ((images.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)
        return array_ops.normalize(images, mean, std)


class ArrayDataset(keras.utils.PyDataset):
    """Batches of in-memory uint8 images, augmented and normalised on the device.

    `dataset[i]` is batch `i` of the current epoch: `(images, labels)`, float32
    normalised images and int32 labels as tensors of the current backend on
    its default device. The pixels travel to the device as uint8 and are
    cropped, flipped and normalised there.

    Args:
        images: uint8 array `(n, height, width, channels)`.
        labels: int array `(n,)`.
        batch_size: int, examples per batch.
        mean: sequence of floats, per-channel mean in [0, 1] units.
        std: sequence of floats, per-channel std in [0, 1] units.
        augmentation: `source.Augmentation` or None (no augmentation).
        shuffle: bool, draw a new order of the examples each epoch.
        seed: int, seeds the order and the augmentation.
        drop_remainder: bool, drop the last incomplete batch.

    Examples:

    ```python
    images = np.zeros((100, 32, 32, 3), "uint8")
    labels = np.zeros(100, "int32")
    data = ArrayDataset(images, labels, 32, mean=(0.5,) * 3, std=(0.25,) * 3,
                        augmentation=source.Augmentation("pad_crop", pad=4),
                        shuffle=True)
    x, y = data[0]  # (32, 32, 32, 3) float32, (32,) int32
    ```
    """

    def __init__(
        self,
        images,
        labels,
        batch_size,
        *,
        mean,
        std,
        augmentation=None,
        shuffle=False,
        seed=0,
        drop_remainder=False,
    ):
        super().__init__()
        self.images = np.ascontiguousarray(images, np.uint8)
        self.labels = np.asarray(labels, np.int32)
        if self.images.ndim != 4 or len(self.images) != len(self.labels):
            raise ValueError(
                "images must be (n, height, width, channels) with one label each. "
                f"Received: images {self.images.shape}, labels {self.labels.shape}"
            )
        self.batch_size = source.positive_int("batch_size", batch_size)
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        if augmentation is not None and augmentation.kind not in ("pad_crop", "resized_crop"):
            raise ValueError(
                "augmentation.kind must be 'pad_crop' or 'resized_crop'. "
                f"Received: {augmentation.kind!r}"
            )
        self.augmentation = augmentation
        self.shuffle = bool(shuffle)
        self.seed = _check_seed(seed)
        self.drop_remainder = bool(drop_remainder)
        # The epoch whose order and augmentation `__getitem__` serves;
        # `on_epoch_end` (called by `fit`) advances it once batches were served
        # (keras also calls it when `fit` starts, before any batch).
        self.epoch = 0
        self._served = False
        self._order = (None, None)
        if len(self) == 0:
            raise ValueError(
                f"{len(self.labels)} examples make no full batch of {self.batch_size} "
                "with drop_remainder=True. Fix: lower batch_size. "
                f"Received: batch_size={self.batch_size}"
            )

    def __len__(self):
        count = len(self.labels)
        if self.drop_remainder:
            return count // self.batch_size
        return -(-count // self.batch_size)

    def order(self):
        """The example indices of the current epoch, in batch order.

        Returns:
            int array `(n,)`: a permutation drawn from `(seed, epoch)` when
            shuffling, else `0..n-1`.
        """
        if not self.shuffle:
            return np.arange(len(self.labels))
        epoch, order = self._order
        if epoch != self.epoch:
            order = np.random.default_rng([self.seed, 0, self.epoch]).permutation(
                len(self.labels)
            )
            self._order = (self.epoch, order)
        return order

    def __getitem__(self, index):
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"A batch index must be an int. Received: {index!r}")
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} out of range [0, {len(self)}).")
        self._served = True
        rows = self.order()[index * self.batch_size : (index + 1) * self.batch_size]
        images = ops.convert_to_tensor(self.images[rows])
        labels = ops.convert_to_tensor(self.labels[rows])
        policy = self.augmentation
        if policy is None:
            return array_ops.device_fn("normalize")(images, self.mean, self.std), labels
        rng = np.random.default_rng([self.seed, 1, self.epoch, int(index)])
        count, height, width = len(rows), *self.images.shape[1:3]
        flips = rng.random(count) < 0.5 if policy.flip else np.zeros(count, bool)
        if policy.kind == "pad_crop":
            offsets = rng.integers(0, 2 * policy.pad + 1, (count, 2)).astype(np.int32)
            images = array_ops.device_fn("pad_crop")(
                images, offsets, flips, self.mean, self.std, pad=policy.pad
            )
        else:
            boxes = array_ops.sample_crop_boxes(rng, count, height, width)
            images = array_ops.device_fn("resized_crop")(images, boxes, flips, self.mean, self.std)
        return images, labels

    def on_epoch_end(self):
        if self._served:
            self.epoch += 1
            self._served = False


def load_arrays(
    name,
    *,
    batch_size,
    seed=0,
    augment=True,
    image_size=None,
    cache_dir=None,
    drop_remainder=False,
    decode_threads=None,
):
    """Loads a dataset without TensorFlow, augmented on the accelerator.

    Names: `digits` (sklearn's 8x8 digits, offline), `folder:<path>` (an image
    folder `train/<class>/*`, `test/<class>/*`), `tinyimagenet:<path>`. The
    TFDS datasets need `keras_tna.data.load` (TensorFlow). Splits,
    augmentation and normalisation are `load`'s (see the module docstring
    for what differs).

    Args:
        name: str, a dataset name, e.g. `"folder:~/data/cifar10-jpeg"`.
        batch_size: int, examples per batch.
        seed: int, seeds the shuffle order and the augmentation.
        augment: bool, whether to augment the training split.
        image_size: None, int or tuple `(height, width)`: resize all images
            to this size. Image folders without it must hold images of a
            single size.
        cache_dir: None, str or False: where decoded image folders are kept
            as `.npy` files (None: `~/.cache/keras_tna/arrays`; False: no
            cache, decode every time).
        drop_remainder: bool, drop the last incomplete training batch.
        decode_threads: int or None, threads decoding image files (default:
            the number of CPUs).

    Returns:
        An `ArrayBundle`.

    Raises:
        ValueError: a name that needs TensorFlow, bad arguments, unreadable
            or mis-sized images (one line naming the file).
        FileNotFoundError: a missing folder.

    Examples:

    ```python
    # KERAS_BACKEND=jax, TensorFlow not installed
    bundle = keras_tna.data.load_arrays("folder:~/data/cifar10-jpeg", batch_size=256)
    base = keras_tna.models.build("resnet18", bundle.num_classes, bundle.input_shape)
    model = keras_tna.TwinModel(base, keras_tna.make_twin(base))
    model.fit(bundle.train, validation_data=bundle.test, epochs=200)
    ```
    """
    batch_size = source.positive_int("batch_size", batch_size)
    seed = _check_seed(seed)
    options = ArrayOptions(
        image_size=source.parse_image_size(image_size),
        cache_dir=resolve_cache_dir(cache_dir),
        decode_threads=(
            os.cpu_count() or 1
            if decode_threads is None
            else source.positive_int("decode_threads", decode_threads)
        ),
    )
    spec, argument = registry.resolve(name)
    if spec.arrays_loader is None:
        raise ValueError(
            f"{name!r} needs TensorFlow: load_arrays reads "
            f"{', '.join(registry.available_arrays())}. "
            "Fix: use keras_tna.data.load with TensorFlow installed, or write the "
            "dataset out as an image folder and pass 'folder:<path>'. "
            f"Received: {name!r}"
        )
    src = spec.arrays_loader(argument, options)
    mean, std = src.mean, src.std
    train = ArrayDataset(
        src.train.images,
        src.train.labels,
        batch_size,
        mean=mean,
        std=std,
        augmentation=src.augmentation if augment else None,
        shuffle=True,
        seed=seed,
        drop_remainder=drop_remainder,
    )
    test = ArrayDataset(src.test.images, src.test.labels, batch_size, mean=mean, std=std)
    return ArrayBundle(
        train=train,
        test=test,
        num_classes=len(src.class_names),
        input_shape=tuple(src.input_shape),
        num_train=src.train.num_examples,
        num_test=src.test.num_examples,
        class_names=tuple(src.class_names),
        name=name,
        mean=tuple(float(m) for m in mean),
        std=tuple(float(s) for s in std),
    )


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int. Received: seed={seed!r}")
    # numpy seeds are non-negative: map negative ints onto distinct ones.
    return int(seed) % 2**64
