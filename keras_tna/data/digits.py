"""scikit-learn's bundled handwritten digits: the offline default dataset.

1,797 real 8x8 grey images of the digits 0-9, shipped inside scikit-learn, so
a fresh machine with no network can train and test end to end.
"""

import numpy as np

from keras_tna.data import source

TEST_FRACTION = 0.2
# The split is part of the dataset's definition: it never depends on `seed`.
SPLIT_SEED = 0


def load_digits(argument, options):
    """Loads sklearn's digits as a `Source`: a fixed stratified 80/20 split.

    The pixel values 0-16 are rescaled to uint8 0-255 (so that `/ 255` gives
    [0, 1], like every other dataset); mean and std come from the training
    split. Augmentation: a random crop after zero-padding by 1 pixel per 8
    (1 at the native 8x8), no flip (digits are not mirror-symmetric).
    """
    del argument
    return digits_source(options.image_size, _resize_all, source.Split.from_arrays)


def digits_source(image_size, resize_all, make_split):
    """The digits `Source`, with the caller's resizing and split type.

    Shared by the tf.data loader (`load_digits`: TensorFlow resizing, tf.data
    splits) and the TensorFlow-free one (`array_sources.py`: numpy resizing,
    array splits), so both have the same split, statistics and augmentation.

    Args:
        image_size: None or tuple `(height, width)`.
        resize_all: callable `(uint8 images, (height, width)) -> uint8 images`.
        make_split: callable `(images, labels) -> source.Split`.

    Returns:
        A `source.Source`.
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    data = sklearn_digits()
    images = np.round(data.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = data.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(
        images,
        labels,
        test_size=TEST_FRACTION,
        stratify=labels,
        random_state=SPLIT_SEED,
    )
    if image_size is not None:
        x_train, x_test = (resize_all(x, image_size) for x in (x_train, x_test))
    mean, std = source.channel_stats(x_train)
    height = x_train.shape[1]
    return source.Source(
        class_names=tuple(str(d) for d in range(10)),
        input_shape=tuple(x_train.shape[1:]),
        train=make_split(x_train, y_train),
        test=make_split(x_test, y_test),
        augmentation=source.Augmentation("pad_crop", pad=max(1, round(height / 8)), flip=False),
        mean=mean,
        std=std,
    )


def _resize_all(images, size):
    # Here: `data.array_sources` (the TensorFlow-free path) imports this module;
    # resizing digits is the one step that needs TensorFlow.
    import tensorflow as tf

    from keras_tna.data import augment  # imports TensorFlow (see above)

    resized = tf.image.resize(tf.cast(images, tf.float32), size, antialias=True)
    return augment.to_uint8(resized).numpy()
