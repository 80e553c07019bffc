"""The input side under a strategy: the global batch, sharding, per-worker seeds.

`check_global_batch` (the global batch splits evenly over the replicas),
`distribute_dataset_options` and `shard` (the auto-shard policy set on
purpose), `worker_seed` (the data seed each worker needs under that policy).
Part of `keras_tna.distribute`, which re-exports every public name.
"""

import tensorflow as tf

from keras_tna.distribute.workers import worker_index

_SHARD_POLICIES = {
    "data": tf.data.experimental.AutoShardPolicy.DATA,
    "file": tf.data.experimental.AutoShardPolicy.FILE,
    "off": tf.data.experimental.AutoShardPolicy.OFF,
}


# ---------------------------------------------------------------- batch size
def check_global_batch(batch_size, strategy):
    """Checks a global batch size against the replicas; returns the per-replica one.

    The batch size in a flagfile is the global batch: the number of examples
    per optimizer step, split evenly over `strategy.num_replicas_in_sync`
    replicas. It means the same thing under every strategy, and so do the
    learning-rate schedule (counted in global steps) and the loss scale.

    Args:
        batch_size: int. The global batch size.
        strategy: tf.distribute.Strategy.

    Returns:
        int, the per-replica batch size.

    Raises:
        ValueError: not a positive int, or not divisible by the replicas.

    Examples:

    >>> strategy = keras_tna.distribute.make_strategy("default")
    >>> keras_tna.distribute.check_global_batch(256, strategy)
    256
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"The batch size must be a positive int. Received: batch_size={batch_size!r}"
        )
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        lower = batch_size - batch_size % replicas
        raise ValueError(
            f"The global batch size {batch_size} does not split evenly over "
            f"{replicas} replicas ({type(strategy).__name__}); use a multiple "
            f"of {replicas}, e.g. {lower or replicas} or {lower + replicas}. "
            f"Received: batch_size={batch_size}"
        )
    return batch_size // replicas


# ---------------------------------------------------------------- datasets
def distribute_dataset_options(policy="data"):
    """`tf.data.Options` with the auto-shard policy set explicitly.

    With several workers ("multi_worker", multi-host TPUs) `tf.distribute`
    shards the training data among the workers:

    - `"data"`: every worker runs the whole pipeline (same seed) and keeps
      its share of each global batch. Right for in-memory data and for
      pipelines that shuffle before batching (all of `keras_tna.data`): each
      global batch is exactly the one-worker batch, split. Reads every file
      on every worker.
    - `"file"`: each worker reads its own subset of the input files (needs at
      least as many files as workers). Less I/O for large file-based
      datasets (ImageNet TFRecords); each worker then shuffles and augments
      its own files, so give it its own seed (`worker_seed`).
    - `"off"`: no sharding (every worker sees every example).

    Args:
        policy: str. `"data"`, `"file"` or `"off"`. Defaults to `"data"`.

    Returns:
        tf.data.Options.

    Examples:

    >>> options = keras_tna.distribute.distribute_dataset_options("data")
    >>> options.experimental_distribute.auto_shard_policy.name
    'DATA'
    """
    if policy not in _SHARD_POLICIES:
        raise ValueError(
            f"Unknown shard policy {policy!r}. Known policies: "
            f"{list(_SHARD_POLICIES)}. Received: policy={policy!r}"
        )
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = _SHARD_POLICIES[policy]
    return options


def shard(dataset, policy="data"):
    """Sets the auto-shard policy of a dataset (see `distribute_dataset_options`).

    Keras' `fit` distributes the dataset with the strategy; this makes the
    sharding among workers the one asked for, instead of the `AUTO` policy
    and its fallback warnings. The dataset must yield global batches.

    Args:
        dataset: tf.data.Dataset. Batched with the global batch size.
        policy: str. `"data"`, `"file"` or `"off"`. Defaults to `"data"`.

    Returns:
        tf.data.Dataset with the options applied.

    Examples:

    >>> ds = tf.data.Dataset.range(8).batch(4)
    >>> ds = keras_tna.distribute.shard(ds, "data")
    >>> ds.options().experimental_distribute.auto_shard_policy.name
    'DATA'
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(
            f"`dataset` must be a tf.data.Dataset. Received: dataset={dataset!r}"
        )
    return dataset.with_options(distribute_dataset_options(policy))


def worker_seed(seed, strategy, policy="data"):
    """The data seed for this worker: deterministic, and distinct where it must be.

    Under the `"data"` policy every worker runs the same pipeline and keeps
    its share, so every worker needs the same `seed` (the shuffle order and
    augmentation are then those of a one-worker run). Under `"file"` or
    `"off"` each worker reads its own stream, so it gets `seed + worker index`:
    reproducible, and not the same augmentation sequence on every worker.

    Args:
        seed: int. The run's seed.
        strategy: tf.distribute.Strategy.
        policy: str. The shard policy in use. Defaults to `"data"`.

    Returns:
        int.

    Examples:

    >>> strategy = tf.distribute.get_strategy()
    >>> keras_tna.distribute.worker_seed(7, strategy, "file")
    7
    """
    distribute_dataset_options(policy)  # checks the name
    if policy == "data":
        return int(seed)
    return int(seed) + worker_index(strategy)
