"""Linear centered kernel alignment (CKA) between the layers of two networks.

Kornblith et al. (2019) compare representations `X` (n x p) and `Y` (n x q)
of the same n examples with CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)),
K = X X^T, L = Y Y^T. Over a whole evaluation set the n x n Gram matrices do
not fit in memory, so, as Nguyen et al. (2021) do, this module averages the
unbiased HSIC estimator (HSIC_1, Song et al. 2012) over minibatches:

    CKA_mb = mean_i HSIC_1(K_i, L_i) / sqrt(mean_i HSIC_1(K_i, K_i) mean_i HSIC_1(L_i, L_i))

where K_i, L_i are the Gram matrices of minibatch i. Memory is that of one
minibatch, whatever the dataset size. HSIC_1 is unbiased for each minibatch,
so CKA_mb estimates the population CKA without the upward bias of the
full-batch (biased) linear CKA on wide features; it is not equal to the
full-batch value on a finite set, only close when the features are few
relative to the batch size. The math runs in `keras.ops` (float32 Gram
matrices of batch-centered features, sums accumulated in float64 numpy).
"""

import keras
import numpy as np

from keras_tna import methods
from keras_tna.analysis import common
from keras_tna.runs import store


def _flatten(features):
    x = keras.ops.cast(features, "float32")
    x = keras.ops.reshape(x, (keras.ops.shape(x)[0], -1))
    # HSIC_1 is invariant to translating the features; centering first keeps
    # float32 Gram matrices of non-negative (ReLU) features accurate.
    return x - keras.ops.mean(x, axis=0, keepdims=True)


def _zero_diagonal_grams(features_list):
    """(num_layers, n, n) Gram matrices with zeroed diagonals."""
    grams = []
    for features in features_list:
        x = _flatten(features)
        grams.append(keras.ops.matmul(x, keras.ops.transpose(x)))
    grams = keras.ops.stack(grams)
    n = keras.ops.shape(grams)[-1]
    return grams * (1.0 - keras.ops.eye(n, dtype=grams.dtype))


def _hsic1_cross(grams_a, grams_b):
    """Unbiased HSIC_1 between every Gram of `grams_a` and every one of `grams_b`.

    HSIC_1(K, L) = [tr(K L) + 1'K1 1'L1 / ((n-1)(n-2)) - 2/(n-2) 1'K L 1]
    / (n (n-3)), K and L with zeroed diagonals (Song et al. 2012, eq. 5).
    """
    n = int(grams_a.shape[-1])
    flat_a = keras.ops.reshape(grams_a, (grams_a.shape[0], -1))
    flat_b = keras.ops.reshape(grams_b, (grams_b.shape[0], -1))
    trace = keras.ops.matmul(flat_a, keras.ops.transpose(flat_b))  # K, L symmetric
    rows_a = keras.ops.sum(grams_a, axis=-1)
    rows_b = keras.ops.sum(grams_b, axis=-1)
    sums = keras.ops.outer(keras.ops.sum(rows_a, axis=-1), keras.ops.sum(rows_b, axis=-1))
    middle = keras.ops.matmul(rows_a, keras.ops.transpose(rows_b))
    hsic = trace + sums / ((n - 1) * (n - 2)) - 2.0 * middle / (n - 2)
    return keras.ops.convert_to_numpy(hsic).astype(np.float64) / (n * (n - 3))


def _hsic1_self(grams):
    n = int(grams.shape[-1])
    trace = keras.ops.sum(grams * grams, axis=(1, 2))
    rows = keras.ops.sum(grams, axis=-1)
    total = keras.ops.sum(rows, axis=-1)
    middle = keras.ops.sum(rows * rows, axis=-1)
    hsic = trace + total * total / ((n - 1) * (n - 2)) - 2.0 * middle / (n - 2)
    return keras.ops.convert_to_numpy(hsic).astype(np.float64) / (n * (n - 3))


class MinibatchCKA:
    """Streaming linear CKA between every layer of one net and every one of another.

    Feed the features of the same minibatch for both networks to `update`;
    `result()` returns the (num_layers_a, num_layers_b) CKA matrix of Nguyen
    et al. (2021): the mean over minibatches of the unbiased HSIC_1, normalised.
    Each minibatch needs at least 4 examples (HSIC_1 divides by n - 3).

    Examples:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(64, 5)).astype("float32")
    >>> cka = MinibatchCKA()
    >>> for start in range(0, 64, 16):
    ...     cka.update([x[start:start + 16]], [2.0 * x[start:start + 16]])
    >>> round(float(cka.result()[0, 0]), 4)
    1.0
    """

    def __init__(self):
        self.reset()

    def reset(self):
        self._xy = None
        self._xx = None
        self._yy = None
        self.num_batches = 0
        self.num_examples = 0

    def update(self, features_a, features_b):
        """Adds one minibatch.

        Args:
            features_a: list of tensors, the outputs of net A's layers on the
                minibatch, each `(n, ...)`.
            features_b: list of tensors, net B's layer outputs on the same
                minibatch, each `(n, ...)`.
        """
        features_a = list(features_a)
        features_b = list(features_b)
        if not features_a or not features_b:
            raise ValueError("`features_a` and `features_b` must be non-empty lists.")
        sizes = {int(keras.ops.shape(f)[0]) for f in features_a + features_b}
        if len(sizes) != 1:
            raise ValueError(
                "All features of a minibatch must have the same number of "
                f"examples (the same images through both nets). Received: {sorted(sizes)}"
            )
        n = sizes.pop()
        if n < 4:
            raise ValueError(
                "The unbiased HSIC estimator needs at least 4 examples per "
                f"minibatch. Received: {n}"
            )
        if self._xy is not None and self._xy.shape != (len(features_a), len(features_b)):
            raise ValueError(
                f"Expected {self._xy.shape[0]} and {self._xy.shape[1]} layers as in "
                f"earlier minibatches. Received: {len(features_a)} and {len(features_b)}"
            )
        grams_a = _zero_diagonal_grams(features_a)
        grams_b = _zero_diagonal_grams(features_b)
        xy = _hsic1_cross(grams_a, grams_b)
        xx = _hsic1_self(grams_a)
        yy = _hsic1_self(grams_b)
        if self._xy is None:
            self._xy, self._xx, self._yy = xy, xx, yy
        else:
            self._xy += xy
            self._xx += xx
            self._yy += yy
        self.num_batches += 1
        self.num_examples += n

    def result(self):
        """The CKA matrix, a float64 numpy array (layers of A x layers of B).

        Entries are nan where a layer's self-similarity is not positive (its
        features are constant over the data, where CKA is undefined).
        """
        if self._xy is None:
            raise ValueError("No minibatch was added: call `update` first.")
        # HSIC_1(K, K) estimates ||Cov||^2 >= 0 but can come out <= 0 on a
        # finite sample when a layer is (nearly) constant, e.g. dead ReLUs:
        # CKA is undefined there (nan).
        product = np.outer(self._xx, self._yy)
        denominator = np.sqrt(np.where(product > 0, product, 1.0))
        return np.where(product > 0, self._xy / denominator, np.nan)


def linear_cka(x, y, unbiased=False):
    """Full-batch linear CKA of two representations of the same examples.

    Args:
        x: array `(n, ...)`, features of n examples (flattened per example).
        y: array `(n, ...)`, other features of the same n examples.
        unbiased: bool. `False`: Kornblith et al.'s CKA from the biased HSIC,
            ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F) with centered X, Y. `True`:
            with the unbiased HSIC_1 (equal to `MinibatchCKA` fed one batch).

    Returns:
        float.

    Examples:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(50, 8))
    >>> round(linear_cka(x, 3.0 * x), 6)
    1.0
    """
    if int(keras.ops.shape(x)[0]) != int(keras.ops.shape(y)[0]):
        raise ValueError(
            "`x` and `y` must hold the same examples. Received: "
            f"{keras.ops.shape(x)[0]} and {keras.ops.shape(y)[0]} rows"
        )
    if unbiased:
        cka = MinibatchCKA()
        cka.update([x], [y])
        return float(cka.result()[0, 0])
    x = _flatten(x)
    y = _flatten(y)
    cross = keras.ops.sum(keras.ops.square(keras.ops.matmul(keras.ops.transpose(y), x)))
    xx = keras.ops.sqrt(keras.ops.sum(keras.ops.square(keras.ops.matmul(keras.ops.transpose(x), x))))
    yy = keras.ops.sqrt(keras.ops.sum(keras.ops.square(keras.ops.matmul(keras.ops.transpose(y), y))))
    return float(keras.ops.convert_to_numpy(cross / (xx * yy)))


class CKAResult:
    """CKA between the layers of two networks over one dataset.

    Attributes:
        matrix: numpy array `(len(names_a), len(names_b))`, entry `[i, j]` the
            CKA between layer `names_a[i]` of net A and `names_b[j]` of net B.
        names_a: list of str, net A's layers (blocks, then `"logits"`).
        names_b: list of str, net B's layers.
        num_examples: int, examples used.
        num_batches: int, minibatches averaged.
        skipped_examples: int, examples of a final minibatch smaller than 4
            (too small for the unbiased estimator) left out.
    """

    def __init__(self, matrix, names_a, names_b, num_examples, num_batches, skipped_examples):
        self.matrix = matrix
        self.names_a = list(names_a)
        self.names_b = list(names_b)
        self.num_examples = num_examples
        self.num_batches = num_batches
        self.skipped_examples = skipped_examples

    def diagonal(self):
        """`{layer: CKA}` for the layers both nets share (same name)."""
        index_b = {n: j for j, n in enumerate(self.names_b)}
        return {
            n: float(self.matrix[i, index_b[n]])
            for i, n in enumerate(self.names_a)
            if n in index_b
        }

    def __repr__(self):
        return (
            f"CKAResult({len(self.names_a)}x{len(self.names_b)} layers, "
            f"{self.num_examples} examples in {self.num_batches} batches)"
        )


def compare_networks(
    model_a,
    model_b,
    data,
    layers_a=None,
    layers_b=None,
    include_logits=True,
    batch_size=256,
    max_batches=None,
):
    """Minibatch linear CKA between every layer of `model_a` and of `model_b`.

    Both networks see the same images, one minibatch at a time; memory does
    not grow with the dataset (see `MinibatchCKA`).

    Args:
        model_a: keras.Model, a functional/Sequential classifier (logits out).
        model_b: keras.Model, the other network (may be `model_a`).
        data: the evaluation set: a batched `tf.data.Dataset` of
            `(images, labels)` or images, or numpy `(images, labels)` /
            images. Batches need at least 4 examples; 256 or more is usual.
        layers_a: list of str or None, net A's layers; `None` means its blocks
            (`keras_tna.models.block_names`).
        layers_b: list of str or None, net B's layers; `None` means its blocks.
        include_logits: bool, add the logits as a last layer `"logits"`.
        batch_size: int, batch size for numpy `data`.
        max_batches: int or None, stop after this many batches (for quick looks).

    Returns:
        A `CKAResult`.

    Examples:

    ```python
    base = keras_tna.analysis.load_network("runs/tna_s0/base.keras")
    twin = keras_tna.analysis.load_network("runs/tna_s0/twin.keras")
    test = keras_tna.data.load("cifar10", batch_size=512).test
    result = keras_tna.analysis.compare_networks(base, twin, test)
    result.diagonal()  # {"block_1": 0.97, ..., "logits": 0.99}
    ```
    """
    store.check_model(model_a, "model_a")
    store.check_model(model_b, "model_b")
    extractor_a, names_a = common.feature_model(model_a, layers_a, include_logits)
    extractor_b, names_b = common.feature_model(model_b, layers_b, include_logits)
    cka = MinibatchCKA()
    skipped = 0
    for index, (images, _) in enumerate(common.iterate_batches(data, batch_size)):
        if max_batches is not None and index >= max_batches:
            break
        if index == 0:
            common.check_input_shape(model_a, images)
            common.check_input_shape(model_b, images)
        if len(images) < 4:
            skipped += len(images)
            continue
        features_a = common.as_list(extractor_a(images, training=False))
        features_b = common.as_list(extractor_b(images, training=False))
        cka.update(features_a, features_b)
    if cka.num_batches == 0:
        raise ValueError(
            "`data` gave no minibatch of at least 4 examples; CKA needs batches "
            "of 4 or more (256 or more is usual)."
        )
    return CKAResult(cka.result(), names_a, names_b, cka.num_examples, cka.num_batches, skipped)


# The column order of the paper's Table 5.
PAIR_KINDS = ("Single vs Single", "TNA vs Single", "Base vs Twin", "DML A vs DML B")


def table5_pairs(runs):
    """The network pairs of the paper's Table 5, formed from training runs.

    - "Single vs Single": the base networks of two single runs.
    - "TNA vs Single": the base of a TNA run and that of a single run.
    - "Base vs Twin": the base and twin of one TNA run.
    - "DML A vs DML B": the two networks of one DML run.

    Runs pair only across different seeds for the first two kinds: a TNA
    base and a single base trained with the same seed may start from the same
    weights, which would inflate their similarity.

    Args:
        runs: list of `keras_tna.analysis.Run` (see `find_runs`).

    Returns:
        dict `{kind: [(label, (run_a, "base"), (run_b, "base" or "twin")), ...]}`
        with the kinds of `PAIR_KINDS` that have at least one pair.

    Examples:

    ```python
    runs, _ = keras_tna.analysis.find_runs(["runs/table1/resnet18_tinyimagenet"])
    pairs = keras_tna.analysis.cka.table5_pairs(runs)
    ```
    """
    pairs = {kind: [] for kind in PAIR_KINDS}
    kinds = [(run, methods.describe(run.method)) for run in runs]
    singles = [run for run, method in kinds if method.is_baseline]
    for a, method in kinds:
        kind = method.cka_vs_single
        others = singles[singles.index(a) + 1 :] if method.is_baseline else singles
        if kind is not None:
            for b in others:
                if a.seed != b.seed:
                    label = f"{a.method} s{a.seed} / {b.method} s{b.seed}"
                    pairs[kind].append((label, (a, "base"), (b, "base")))
        if method.cka_within is not None and a.twin_path is not None:
            first, second = method.network_names
            label = f"{a.method} s{a.seed} {first} / {second}"
            pairs[method.cka_within].append((label, (a, "base"), (a, "twin")))
    return {kind: value for kind, value in pairs.items() if value}
