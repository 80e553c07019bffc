"""Linear probes on frozen block outputs (Alain & Bengio 2017; paper appendix A.3).

At each block the network up to it is frozen, each channel of the block
output is averaged over space (one value per channel), and a linear
classifier is trained on that (SGD, learning rate 0.01, 10 epochs, the full
training set); its validation accuracy measures how linearly separable the
block's features are (the paper's Fig. 2).

The pooled features are computed once per split and kept in memory (numpy),
not recomputed each probe epoch. All probes of one network train together in
one keras model with one input and one `Dense` output per block: their
parameters are disjoint and the loss is the sum of their losses, so each probe
gets exactly the updates it would get alone, with the same shuffled batches.
"""

import keras
import numpy as np

from keras_tna.analysis import common
from keras_tna.runs import store


def pooled_features(model, data, layer_names=None, include_logits=False, batch_size=256, max_examples=None):
    """Channel-averaged block outputs of `model` on `data`, as numpy arrays.

    Args:
        model: keras.Model, a functional/Sequential classifier.
        data: a batched `tf.data.Dataset` of `(images, labels)`, or numpy
            `(images, labels)`.
        layer_names: list of str or None; `None` means the model's blocks.
        include_logits: bool, also return the logits (as `"logits"`).
        batch_size: int, batch size for numpy `data`.
        max_examples: int or None, stop after this many examples.

    Returns:
        A tuple `(names, features, labels)`: `features[name]` is a float32
        array `(num_examples, channels)`, `labels` an int64 array.

    Examples:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((6, 6, 3)),
    ...     keras.layers.Conv2D(4, 3, name="block_1"),
    ...     keras.layers.Flatten(), keras.layers.Dense(2, name="logits")])
    >>> names, feats, labels = pooled_features(
    ...     model, (np.zeros((10, 6, 6, 3)), np.zeros(10, int)))
    >>> names, feats["block_1"].shape
    (['block_1'], (10, 4))
    """
    store.check_model(model)
    extractor, names = common.feature_model(model, layer_names, include_logits, pool=True)
    chunks = [[] for _ in names]
    labels = []
    seen = 0
    for index, (images, batch_labels) in enumerate(common.iterate_batches(data, batch_size)):
        if batch_labels is None:
            raise ValueError("Linear probes need labels: `data` must yield (images, labels).")
        if index == 0:
            common.check_input_shape(model, images)
        if max_examples is not None:
            if seen >= max_examples:
                break
            images = images[: max_examples - seen]
            batch_labels = batch_labels[: max_examples - seen]
        outputs = common.as_list(extractor(images, training=False))
        for chunk, output in zip(chunks, outputs):
            chunk.append(keras.ops.convert_to_numpy(output).astype(np.float32))
        labels.append(np.asarray(batch_labels).reshape(-1).astype(np.int64))
        seen += len(images)
    if not labels:
        raise ValueError("`data` is empty: no examples to compute probe features on.")
    features = {name: np.concatenate(chunk) for name, chunk in zip(names, chunks)}
    return names, features, np.concatenate(labels)


class _ShuffledBatches(keras.utils.PyDataset):
    """All epochs' seeded shuffled minibatches of cached features, as one pass.

    Batch `k` belongs to epoch `k // batches_per_epoch`; every epoch is a fresh
    permutation drawn up front, so a batch depends only on its index (no
    reliance on when keras calls `on_epoch_end`). One copy of the labels is
    returned per probe.
    """

    def __init__(self, features, labels, batch_size, epochs, seed):
        super().__init__()
        self.features = features
        self.labels = labels
        self.batch_size = batch_size
        self.batches_per_epoch = -(-len(labels) // batch_size)
        rng = np.random.default_rng(seed)
        self.orders = [rng.permutation(len(labels)) for _ in range(epochs)]

    def __len__(self):
        return self.batches_per_epoch * len(self.orders)

    def __getitem__(self, index):
        epoch, batch = divmod(index, self.batches_per_epoch)
        rows = self.orders[epoch][batch * self.batch_size : (batch + 1) * self.batch_size]
        y = self.labels[rows]
        return tuple(f[rows] for f in self.features), tuple(y for _ in self.features)


def train_probes(
    train_features,
    train_labels,
    val_features,
    val_labels,
    num_classes,
    epochs=10,
    learning_rate=0.01,
    momentum=0.9,
    batch_size=128,
    standardize=False,
    seed=0,
):
    """Trains one linear classifier per feature set, returns validation accuracies.

    Args:
        train_features: dict `{name: array (n_train, d)}`, cached features.
        train_labels: int array `(n_train,)`.
        val_features: dict `{name: array (n_val, d)}`, same names.
        val_labels: int array `(n_val,)`.
        num_classes: int, number of classes.
        epochs: int, passes over the training features (paper: 10).
        learning_rate: float, SGD learning rate (paper: 0.01).
        momentum: float, SGD momentum (the paper does not state it; 0.9 here).
        batch_size: int, SGD minibatch size.
        standardize: bool, scale each feature to zero mean and unit variance
            (training-set statistics) before the probe. The paper does not;
            off by default.
        seed: int, seeds the probes' initial weights and the batch order.

    Returns:
        A `ProbeResult` (`val_accuracy`, `train_accuracy`, `diverged`).

    Examples:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 200)
    >>> x = {"good": (y[:, None] * 2.0 - 1.0) + 0.1 * rng.normal(size=(200, 3)),
    ...      "noise": rng.normal(size=(200, 3))}
    >>> val = train_probes(x, y, x, y, num_classes=2, epochs=3).val_accuracy
    >>> val["good"] > 0.95 and val["noise"] < 0.8
    True
    """
    names = list(train_features)
    if set(names) != set(val_features):
        raise ValueError(
            "Training and validation features must have the same names. Received: "
            f"{sorted(train_features)} and {sorted(val_features)}"
        )
    for split, labels in (("training", train_labels), ("validation", val_labels)):
        labels = np.asarray(labels)
        if labels.size and (labels.max() >= num_classes or labels.min() < 0):
            raise ValueError(
                f"The {split} labels go up to {int(labels.max())} but the network "
                f"has {num_classes} classes; the dataset does not match the "
                "network (mismatched class counts)."
            )
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"`epochs` must be an integer >= 1. Received: epochs={epochs!r}")
    if not learning_rate > 0:
        raise ValueError(f"`learning_rate` must be > 0. Received: learning_rate={learning_rate!r}")
    train_x = [np.asarray(train_features[n], np.float32) for n in names]
    val_x = [np.asarray(val_features[n], np.float32) for n in names]
    if standardize:
        means = [x.mean(axis=0) for x in train_x]
        stds = [x.std(axis=0) + 1e-6 for x in train_x]
        train_x = [(x - m) / s for x, m, s in zip(train_x, means, stds)]
        val_x = [(x - m) / s for x, m, s in zip(val_x, means, stds)]
    inputs = [keras.Input((x.shape[1],), name=f"in_{i}") for i, x in enumerate(train_x)]
    outputs = [
        keras.layers.Dense(
            num_classes,
            dtype="float32",
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed + i),
            name=f"probe_{i}",
        )(x)
        for i, x in enumerate(inputs)
    ]
    probes = keras.Model(inputs, outputs, name="linear_probes")
    probes.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum),
        loss=[keras.losses.SparseCategoricalCrossentropy(from_logits=True) for _ in names],
    )
    train_labels = np.asarray(train_labels).reshape(-1).astype(np.int64)
    val_labels = np.asarray(val_labels).reshape(-1).astype(np.int64)
    batches = _ShuffledBatches(train_x, train_labels, batch_size, epochs, seed)
    # The batches are already shuffled; keras would otherwise reorder them.
    probes.fit(batches, epochs=1, shuffle=False, verbose=0)

    def accuracies(xs, labels):
        hits = np.zeros(len(names))
        for start in range(0, len(labels), 4096):
            logits = common.as_list(probes([x[start : start + 4096] for x in xs], training=False))
            for i, out in enumerate(logits):
                predicted = np.argmax(keras.ops.convert_to_numpy(out), axis=-1)
                hits[i] += np.sum(predicted == labels[start : start + 4096])
        return {n: float(hits[i] / len(labels)) for i, n in enumerate(names)}

    diverged = [
        n
        for n, layer in zip(names, (probes.get_layer(f"probe_{i}") for i in range(len(names))))
        if not all(np.all(np.isfinite(w)) for w in layer.get_weights())
    ]
    return ProbeResult(
        names,
        accuracies(val_x, val_labels),
        accuracies(train_x, train_labels),
        len(train_labels),
        len(val_labels),
        diverged,
    )


class ProbeResult:
    """Linear-probe accuracies at the blocks of one network.

    Attributes:
        names: list of str, the probed layers in depth order.
        val_accuracy: dict `{name: float}`, validation accuracy per layer.
        train_accuracy: dict `{name: float}`, training accuracy per layer.
        num_train: int, training examples used.
        num_val: int, validation examples used.
        diverged: list of str, layers whose probe weights became non-finite
            (features too large for the learning rate: try `standardize=True`
            or a smaller learning rate); their accuracies are meaningless.
    """

    def __init__(self, names, val_accuracy, train_accuracy, num_train, num_val, diverged=()):
        self.names = list(names)
        self.val_accuracy = dict(val_accuracy)
        self.train_accuracy = dict(train_accuracy)
        self.num_train = num_train
        self.num_val = num_val
        self.diverged = list(diverged)

    def __repr__(self):
        accs = ", ".join(f"{n}: {self.val_accuracy[n]:.3f}" for n in self.names)
        return f"ProbeResult({accs})"


def linear_probes(
    model,
    train_data,
    val_data,
    layer_names=None,
    include_logits=False,
    epochs=10,
    learning_rate=0.01,
    momentum=0.9,
    batch_size=128,
    standardize=False,
    seed=0,
    max_train_examples=None,
    max_val_examples=None,
    feature_batch_size=256,
):
    """Trains a linear probe at each block of a frozen network (paper Fig. 2).

    Args:
        model: keras.Model, the trained network (frozen: only the probes train).
        train_data: training set, a batched `tf.data.Dataset` of
            `(images, labels)` or numpy `(images, labels)`. Use it without
            augmentation (e.g. `keras_tna.data.load(..., augment=False).train`)
            so that the cached features are the images' own.
        val_data: validation set, same forms.
        layer_names: list of str or None; `None` means the model's blocks.
        include_logits: bool, also probe the logits.
        epochs: int, probe training epochs (paper: 10).
        learning_rate: float, SGD learning rate (paper: 0.01).
        momentum: float, SGD momentum (not stated in the paper; 0.9).
        batch_size: int, probe minibatch size.
        standardize: bool, standardise features first (not in the paper).
        seed: int, probe initialisation and batch order.
        max_train_examples: int or None, use only the first examples of the
            training set (default: the full training set, as in the paper).
        max_val_examples: int or None, likewise for the validation set.
        feature_batch_size: int, batch size for numpy data when computing
            features.

    Returns:
        A `ProbeResult`.

    Examples:

    ```python
    bundle = keras_tna.data.load("cifar10", batch_size=512, augment=False)
    base = keras_tna.analysis.load_network("runs/tna_s0/base.keras")
    result = keras_tna.analysis.linear_probes(base, bundle.train, bundle.test)
    result.val_accuracy  # {"block_1": 0.41, ..., "block_8": 0.93}
    ```
    """
    store.check_model(model)
    names, train_x, train_y = pooled_features(
        model, train_data, layer_names, include_logits, feature_batch_size, max_train_examples
    )
    _, val_x, val_y = pooled_features(
        model, val_data, layer_names, include_logits, feature_batch_size, max_val_examples
    )
    return train_probes(
        train_x,
        train_y,
        val_x,
        val_y,
        num_classes=common.num_classes(model),
        epochs=epochs,
        learning_rate=learning_rate,
        momentum=momentum,
        batch_size=batch_size,
        standardize=standardize,
        seed=seed,
    )
