"""TensorFlow Datasets: cifar10, cifar100, imagenet2012, cifar10_corrupted.

Nothing is downloaded unless asked (`download=True`): offline, `tfds.load`
with downloads on retries for minutes before failing, so a dataset that is not
prepared in `data_dir` fails at once with a message that says how to provide
it. With `download=True` the network is probed first (a few seconds at most).
"""

import os
import socket
import threading

import tensorflow as tf

from keras_tna.data import augment
from keras_tna.data import source

CIFAR10_CLASSES = source.CIFAR10_CLASSES
CIFAR100_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle",
    "bicycle", "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel",
    "can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock",
    "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster",
    "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse",
    "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear",
    "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine",
    "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea",
    "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip",
    "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)  # fmt: skip
# The 19 corruptions of CIFAR-10-C (Hendrycks & Dietterich 2019) in TFDS's
# spelling; each comes in severities 1 to 5, test split only.
CIFAR10_CORRUPTIONS = (
    "brightness", "contrast", "defocus_blur", "elastic", "fog", "frost",
    "frosted_glass_blur", "gaussian_blur", "gaussian_noise", "impulse_noise",
    "jpeg_compression", "motion_blur", "pixelate", "saturate", "shot_noise",
    "snow", "spatter", "speckle_noise", "zoom_blur",
)  # fmt: skip
CIFAR10_CORRUPTION_SEVERITIES = (1, 2, 3, 4, 5)

# Per-channel statistics of the original training sets, in [0, 1] units.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_DEFAULT_SIZE = (224, 224)

# Where `download=True` checks that the network is reachable (TFDS's storage).
NETWORK_PROBE = ("storage.googleapis.com", 443)
NETWORK_PROBE_TIMEOUT_S = 3.0

_HOW_TO_PROVIDE = (
    "keras_tna downloads nothing unless asked. Fix: prepare it on a machine with "
    "internet (`tfds build {name} --data_dir=DIR`, or keras_tna.data.load(..., "
    "download=True, data_dir=DIR)) and pass data_dir=DIR, or use an image folder "
    "with 'folder:<path>' (train/<class>/*, test/<class>/*)."
)


def load_cifar10(argument, options):
    """CIFAR-10 from TFDS: 50,000 / 10,000 32x32 colour images, 10 classes."""
    del argument
    return _small_source("cifar10", CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD, options)


def load_cifar100(argument, options):
    """CIFAR-100 from TFDS (fine labels): 50,000 / 10,000 images, 100 classes."""
    del argument
    return _small_source(
        "cifar100", CIFAR100_CLASSES, CIFAR100_MEAN, CIFAR100_STD, options
    )


def load_cifar10_corrupted(argument, options):
    """CIFAR-10-C `<corruption>_<severity>` from TFDS: 10,000 test images only.

    Normalised with CIFAR-10's statistics: it is meant for models trained on
    CIFAR-10.
    """
    corruption, _, severity = argument.rpartition("_")
    if corruption not in CIFAR10_CORRUPTIONS or severity not in {
        str(s) for s in CIFAR10_CORRUPTION_SEVERITIES
    }:
        raise ValueError(
            "Unknown cifar10_corrupted config: use "
            "'cifar10_corrupted/<corruption>_<severity>' with a severity 1-5 and "
            f"a corruption in {', '.join(CIFAR10_CORRUPTIONS)}. "
            f"Received: {argument!r}"
        )
    return _small_source(
        f"cifar10_corrupted/{argument}",
        CIFAR10_CLASSES,
        CIFAR10_MEAN,
        CIFAR10_STD,
        options,
    )


def load_imagenet2012(argument, options):
    """ImageNet-1k (ILSVRC 2012) from TFDS, prepared from the manual download.

    Streams from the TFRecords each epoch (not cached unless `cache=True`).
    Training images get a random-resized crop to `image_size` (default 224)
    and a flip; test images (the 50,000 validation images) get the resize to
    256 and central 224 crop.
    """
    del argument
    size = options.image_size or IMAGENET_DEFAULT_SIZE

    def eval_transform(image):
        return augment.center_crop_resize(image, size)

    splits = {}
    for split, tfds_split in (("train", "train"), ("test", "validation")):
        if split in options.splits:
            dataset, count = _tfds_split("imagenet2012", tfds_split, options)
            if split == "test":
                dataset = dataset.map(
                    lambda x, y: (eval_transform(x), y),
                    num_parallel_calls=tf.data.AUTOTUNE,
                )
            splits[split] = source.Split(dataset, count)
    return source.Source(
        class_names=_class_names("imagenet2012", options),
        input_shape=(*size, 3),
        train=splits.get("train"),
        test=splits.get("test"),
        augmentation=source.Augmentation("resized_crop", flip=True),
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        default_cache=False,
        eval_transform=eval_transform,
    )


def _small_source(tfds_name, class_names, mean, std, options):
    """A TFDS dataset of fixed-size images, in memory unless `cache=False`."""
    in_memory = options.cache is None or options.cache
    size = options.image_size
    splits = {}
    for split in ("train", "test"):
        if split not in options.splits:
            continue
        dataset, count = _tfds_split(tfds_name, split, options)
        if size is not None:
            dataset = dataset.map(
                lambda x, y: (augment.resize(x, size), y),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        if in_memory:
            splits[split] = source.Split.from_arrays(*source.materialize(dataset))
        else:
            splits[split] = source.Split(dataset, count)
    height, width = size if size is not None else (32, 32)
    return source.Source(
        class_names=class_names,
        input_shape=(height, width, 3),
        train=splits.get("train"),
        test=splits.get("test"),
        augmentation=source.Augmentation("pad_crop", pad=4, flip=True),
        mean=mean,
        std=std,
    )


def _class_names(tfds_name, options):
    tfds = _import_tfds()
    builder = tfds.builder(tfds_name, data_dir=_data_dir(options))
    return tuple(builder.info.features["label"].names)


def _data_dir(options):
    # TFDS reads TFDS_DATA_DIR once, at import: read it again at call time so
    # that a value set later is honoured too; an explicit data_dir wins.
    return options.data_dir or os.environ.get("TFDS_DATA_DIR") or None


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:  # e.g. tfds 4.9.10 without importlib_resources
        raise ImportError(
            f"tensorflow-datasets could not be imported ({error}). Fix: "
            "`pip install 'tensorflow-datasets>=4.9.6,<4.10' importlib_resources`."
        ) from None
    return tfds


def _tfds_split(tfds_name, split, options):
    """Returns `(dataset of (uint8 image, int32 label), num_examples)`."""
    tfds = _import_tfds()
    data_dir = _data_dir(options)

    def prepared():
        return tfds.load(
            tfds_name,
            split=split,
            data_dir=data_dir,
            download=False,
            as_supervised=True,
            shuffle_files=False,
        )

    try:
        dataset = prepared()
    except AssertionError as error:
        if "could not find data" not in str(error):
            raise
        if not options.download:
            raise FileNotFoundError(_not_prepared_message(tfds_name, data_dir)) from None
        _download(tfds_name, data_dir, options.manual_dir)
        dataset = prepared()
    count = int(dataset.cardinality())
    if count < 0:
        raise ValueError(f"{tfds_name} {split}: unknown number of examples.")
    dataset = dataset.map(lambda x, y: (x, tf.cast(y, tf.int32)))
    return dataset, count


def _not_prepared_message(tfds_name, data_dir):
    where = f"data_dir {data_dir!r}" if data_dir else "the default TFDS data_dir"
    name = tfds_name.split("/")[0]
    if name == "imagenet2012":
        return (
            f"imagenet2012 is not prepared in {where}. Fix: put "
            "ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar in a folder M and "
            "call keras_tna.data.load('imagenet2012', manual_dir=M, download=True, "
            "data_dir=DIR) once, then pass data_dir=DIR."
        )
    return f"{tfds_name} is not prepared in {where}. " + _HOW_TO_PROVIDE.format(
        name=tfds_name
    )


def _download(tfds_name, data_dir, manual_dir):
    tfds = _import_tfds()
    # ImageNet is prepared from the manual download: no network needed.
    needs_network = not (tfds_name == "imagenet2012" and manual_dir)
    if needs_network and not network_reachable():
        host, port = NETWORK_PROBE
        raise ConnectionError(
            f"Cannot download {tfds_name}: {host}:{port} is unreachable (no "
            "network). " + _HOW_TO_PROVIDE.format(name=tfds_name)
        )
    config = tfds.download.DownloadConfig(manual_dir=manual_dir)
    builder = tfds.builder(tfds_name, data_dir=data_dir)
    builder.download_and_prepare(download_config=config)


def network_reachable(address=None, timeout=None):
    """Whether a TCP connection to `address` opens within `timeout` seconds.

    Name resolution can hang far longer than a connect timeout, so the probe
    runs in a daemon thread that is abandoned after `timeout`.

    Args:
        address: tuple `(host, port)`; defaults to `NETWORK_PROBE`.
        timeout: float seconds; defaults to `NETWORK_PROBE_TIMEOUT_S`.

    Returns:
        bool.
    """
    address = address or NETWORK_PROBE
    timeout = NETWORK_PROBE_TIMEOUT_S if timeout is None else timeout
    result = []

    def probe():
        try:
            with socket.create_connection(address, timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])
