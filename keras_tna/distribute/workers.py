"""Running under a strategy: batch sizes, sharding, the chief, checkpoints, failures.

`check_global_batch`, `shard`, `worker_seed`, `is_chief`, `worker_dir`,
`BackupAndRestore`, `stop_on_peer_failure`, `synchronize_batchnorm`,
`check_jit_compile`. Part of `keras_tna.distribute`, which re-exports every
name.
"""

import contextlib
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from keras_tna import backend

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


def worker_index(strategy):
    """This worker's index among the cluster's workers (chief first), and 0 elsewhere.

    The order is `tf.distribute`'s input-sharding order: the chief (if any),
    then `worker` 0, 1, ...

    Examples:

    >>> keras_tna.distribute.worker_index(tf.distribute.get_strategy())
    0
    """
    task = _multi_worker_task(strategy)
    return 0 if task is None else _task_role(*task)[1]


def num_workers(strategy):
    """The number of workers (input pipelines) of a strategy: 1 unless multi-worker.

    Examples:

    >>> keras_tna.distribute.num_workers(tf.distribute.get_strategy())
    1
    """
    task = _multi_worker_task(strategy)
    if task is None:
        return 1
    return sum(task[2].values())


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


# ---------------------------------------------------------------- chief, dirs
def _multi_worker_task(strategy):
    """(task_type, task_id, {job: size}) under a multi-worker strategy, else None."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None
    resolver = strategy.cluster_resolver
    jobs = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not jobs:
        return None
    sizes = {job: len(tasks) for job, tasks in jobs.items()}
    return resolver.task_type, int(resolver.task_id or 0), sizes


def _task_role(task_type, task_id, jobs):
    """(is_chief, worker index) of a task in a cluster with `jobs` {job: size}."""
    if task_type == "chief":
        return True, 0
    has_chief = "chief" in jobs
    return (task_id == 0 and not has_chief), task_id + (1 if has_chief else 0)


def is_chief(strategy):
    """Whether this process is the chief: the one whose files are kept.

    True everywhere except on the non-chief workers of a multi-worker
    cluster. The chief is the `"chief"` task, or `"worker"` 0 when the
    cluster has no chief.

    Examples:

    >>> keras_tna.distribute.is_chief(tf.distribute.get_strategy())
    True
    """
    task = _multi_worker_task(strategy)
    return True if task is None else _task_role(*task)[0]


def checkpoint_dir_for_worker(directory, strategy):
    """Where this worker writes what belongs in `directory`.

    Under "multi_worker" every worker must take part in saving (saving can
    involve collective operations), but only the chief's files are kept: the
    chief gets `directory` itself, the other workers a fresh temporary
    directory that the caller removes with `remove_worker_dir` once written
    (or use the `worker_dir` context manager). Elsewhere: `directory`.

    Args:
        directory: str or path-like. The directory that is kept.
        strategy: tf.distribute.Strategy.

    Returns:
        str.

    Examples:

    >>> keras_tna.distribute.checkpoint_dir_for_worker(
    ...     "run/checkpoints", tf.distribute.get_strategy())
    'run/checkpoints'
    """
    directory = os.fspath(directory)
    if is_chief(strategy):
        return directory
    return _temp_dir(strategy)


def _temp_dir(strategy):
    return tempfile.mkdtemp(prefix=f"keras_tna_worker{worker_index(strategy)}_")


def remove_worker_dir(path, directory):
    """Removes a non-chief worker's temporary directory (no-op for the chief's).

    Args:
        path: str. What `checkpoint_dir_for_worker(directory, ...)` returned.
        directory: str or path-like. The directory that is kept.
    """
    if os.path.abspath(path) != os.path.abspath(os.fspath(directory)):
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def worker_dir(directory, strategy):
    """Context manager: `checkpoint_dir_for_worker`, removed after if temporary.

    Examples:

    ```python
    with keras_tna.distribute.worker_dir(output_dir, strategy) as out:
        model.base.save(os.path.join(out, "base.keras"))  # every worker
    ```
    """
    path = checkpoint_dir_for_worker(directory, strategy)
    try:
        yield path
    finally:
        remove_worker_dir(path, directory)


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` for every strategy, multi-worker too.

    Keras' callback makes every worker write the same files. This one
    follows `tf.distribute`'s rule: every worker saves (saving can involve
    collective operations), only the chief into `backup_dir`; the others
    into a temporary directory removed right after. Every worker restores
    from `backup_dir` at the start of `fit`, so `backup_dir` must be readable
    by all workers (a shared file system or bucket), and only the chief
    deletes it at the end (`delete_checkpoint=True`). With one worker it is
    keras' callback.

    Args:
        backup_dir: str. Where the chief keeps the training state.
        strategy: tf.distribute.Strategy or None. None: the strategy whose
            scope is active when the callback is created.
        **kwargs: Passed to `keras.callbacks.BackupAndRestore` (`save_freq`,
            `double_checkpoint`, `delete_checkpoint`).

    Examples:

    ```python
    backup = keras_tna.distribute.BackupAndRestore("run/checkpoints", strategy)
    model.fit(train, epochs=200, callbacks=[backup])  # resumes if interrupted
    ```
    """

    _PATH_ATTRIBUTES = (
        "backup_dir",
        "_weights_path",
        "_training_metadata_path",
        "_prev_weights_path",
        "_prev_training_metadata_path",
    )

    def __init__(self, backup_dir, strategy=None, **kwargs):
        super().__init__(os.fspath(backup_dir), **kwargs)
        self.strategy = strategy or tf.distribute.get_strategy()
        self.is_chief = is_chief(self.strategy)

    def _save_model(self):
        if self.is_chief:
            return super()._save_model()
        shared = {name: getattr(self, name) for name in self._PATH_ATTRIBUTES}
        temp = _temp_dir(self.strategy)
        try:
            for name, value in shared.items():
                setattr(
                    self, name,
                    temp if name == "backup_dir"
                    else os.path.join(temp, os.path.relpath(value, shared["backup_dir"])),
                )
            super()._save_model()
        finally:
            for name, value in shared.items():
                setattr(self, name, value)
            remove_worker_dir(temp, self.backup_dir)

    def on_train_end(self, logs=None):
        if self.is_chief:
            super().on_train_end(logs)


# ---------------------------------------------------------------- failures
@contextlib.contextmanager
def stop_on_peer_failure(strategy, checkpoint_dir=None):
    """Turns a lost peer under "multi_worker" into a one-line `RuntimeError`.

    When a worker dies, TensorFlow aborts the others' collective operations
    (peer health check, or the collective timeout of `make_strategy`), which
    surfaces as a long `tf.errors` traceback from inside `fit`. Inside this
    context it becomes a `RuntimeError` saying what happened and how to
    resume. Other strategies: errors pass unchanged.

    Args:
        strategy: tf.distribute.Strategy.
        checkpoint_dir: str or None. Named in the message (where the run
            resumes from).

    Examples:

    ```python
    with keras_tna.distribute.stop_on_peer_failure(strategy, "run/checkpoints"):
        model.fit(train, epochs=200, callbacks=[backup])
    ```
    """
    try:
        yield
    except (
        tf.errors.UnavailableError,
        tf.errors.DeadlineExceededError,
        tf.errors.CancelledError,
        tf.errors.AbortedError,
        tf.errors.InternalError,
    ) as e:
        if _multi_worker_task(strategy) is None:
            raise
        detail = _root_cause(e.message)
        resume = (
            f" from the last checkpoint in {checkpoint_dir}" if checkpoint_dir else ""
        )
        raise RuntimeError(
            f"Worker {worker_index(strategy)} stopped: a peer of the "
            f"multi-worker cluster failed or stopped answering "
            f"({type(e).__name__}: {detail}). Restart all "
            f"workers with the same TF_CONFIG; training resumes{resume}."
        ) from None


def _root_cause(message, max_lines=2):
    """The first lines of a TensorFlow error message that are not its traceback."""
    lines = []
    for line in (message or "").splitlines():
        text = line.strip()
        if not text or text.startswith(("File ", "[[", "Graph execution error")) or (
            text.startswith("Detected at node")
        ):
            continue
        lines.append(text)
    return " ".join(lines[:max_lines])


# ---------------------------------------------------------------- BatchNorm, XLA
def synchronize_batchnorm(model, synchronized=True):
    """Switches a model's BatchNormalization layers to synchronised statistics.

    With `synchronized=True` the batch mean and variance of each
    `keras.layers.BatchNormalization` are computed over the global batch
    (an all-reduce across replicas each step) instead of over each replica's
    share. Off by default, as in the paper's setting (statistics per
    device). On one device it changes nothing. The layers are changed in
    place, nested models included; do it before the first `fit` (the step
    is traced then) and the setting is saved with the model's config.
    TensorFlow backend only.

    Args:
        model: keras.Model or keras.Layer.
        synchronized: bool. Defaults to `True`.

    Returns:
        int, the number of BatchNormalization layers set.

    Examples:

    >>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
    ...                         keras.layers.BatchNormalization()])
    >>> keras_tna.distribute.synchronize_batchnorm(net)
    1
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"`model` must be a keras.Model. Received: model={model!r}")
    if synchronized:
        backend.require_tensorflow(
            "Synchronised BatchNorm (keras' BatchNormalization(synchronized=True))"
        )
    count = 0
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = bool(synchronized)
            count += 1
    return count


_JIT_VALUES = {"auto": "auto", "true": True, "false": False}


def check_jit_compile(jit_compile, strategy):
    """Resolves the XLA setting for `compile(jit_compile=...)`, refusing what fails.

    `"auto"` keeps keras' choice: XLA off on CPU-only machines and under
    `tf.distribute` strategies, on otherwise (one GPU/TPU). `True` asks for
    XLA, which usually pays on GPUs (measure; it made the two-network step
    1.45x slower on a CPU); it is refused with several replicas on the CPU
    devices of one machine, where the compiled step fails ("Trying to access
    resource ... located in device CPU:1 from device CPU:0").

    Args:
        jit_compile: bool or str. `True`/`False`/`"auto"` (or the strings
            `"true"`/`"false"`, as in a flagfile).
        strategy: tf.distribute.Strategy.

    Returns:
        `True`, `False` or `"auto"`.

    Examples:

    >>> keras_tna.distribute.check_jit_compile("auto", tf.distribute.get_strategy())
    'auto'
    >>> keras_tna.distribute.check_jit_compile("true", tf.distribute.get_strategy())
    True
    """
    key = str(jit_compile).lower() if isinstance(jit_compile, (str, bool)) else None
    if key not in _JIT_VALUES:
        raise ValueError(
            f"jit_compile must be one of {list(_JIT_VALUES)} (or a bool). "
            f"Received: jit_compile={jit_compile!r}"
        )
    value = _JIT_VALUES[key]
    try:
        local_devices = tuple(strategy.extended.worker_devices)
    except (AttributeError, RuntimeError, NotImplementedError):  # the default one
        local_devices = ()
    if (
        value is True
        and len(local_devices) > 1
        and all("CPU" in d.upper() for d in local_devices)
    ):
        raise ValueError(
            "jit_compile=True (XLA) fails with several replicas on the CPUs of "
            f"one machine ({type(strategy).__name__} over {len(local_devices)} "
            "CPU devices: XLA cannot reach the other replicas' variables); use "
            "jit_compile='auto' or 'false' here, 'true' on GPUs. Received: "
            f"jit_compile={jit_compile!r}"
        )
    return value
