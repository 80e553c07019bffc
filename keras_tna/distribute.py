"""Scaling TNA out with `tf.distribute`: strategies, sharding, checkpoints.

TNA doubles the training compute, so its users are the ones who outgrow one
accelerator. This module holds the pieces a training program needs to run the
same flagfile on one device, all local GPUs, several machines or a Cloud TPU:

- `make_strategy(name, ...)`: the one registry of strategy names
  (`available()`), with `TF_CONFIG` and TPU checks that fail before training.
- `check_global_batch(batch_size, strategy)`: the global batch must split
  evenly over the replicas (it means the same thing under every strategy).
- `shard(dataset, policy)`, `worker_seed(seed, strategy, policy)`: the
  auto-shard policy set on purpose, and per-worker seeds where needed.
- `is_chief`, `checkpoint_dir_for_worker`, `worker_dir`, `BackupAndRestore`:
  only the chief keeps what it writes; every worker restores.
- `synchronize_batchnorm(model)`: synchronised batch statistics (off by
  default, as in the paper).
- `check_jit_compile(value, strategy)`: XLA on request, refused where it fails.
- `stop_on_peer_failure(strategy)`: a dead worker becomes a one-line error.

See docs/distributed.md for how to run on several GPUs, machines and TPUs.

Examples:

```python
strategy = keras_tna.distribute.make_strategy("mirrored")
per_replica = keras_tna.distribute.check_global_batch(256, strategy)
bundle = keras_tna.data.load("cifar10", batch_size=256, seed=0)
train = keras_tna.distribute.shard(bundle.train, "data")
with strategy.scope():
    model = keras_tna.TwinModel(base, twin)
    model.compile(optimizer=...)
backup = keras_tna.distribute.BackupAndRestore("run/checkpoints", strategy)
with keras_tna.distribute.stop_on_peer_failure(strategy):
    model.fit(train, epochs=200, callbacks=[backup])
```
"""

import contextlib
import itertools
import json
import math
import os
import shutil
import socket
import tempfile
import urllib.parse

import keras
import tensorflow as tf

# Seconds a collective operation (gradient all-reduce, synchronised
# BatchNorm, ...) may wait for its peers under "multi_worker" before it fails.
DEFAULT_COLLECTIVE_TIMEOUT_S = 600.0
# Seconds "multi_worker" waits at start-up for every worker of the cluster.
DEFAULT_CLUSTER_TIMEOUT_S = 900.0
# Seconds the TPU address gets to accept a TCP connection.
DEFAULT_TPU_CONNECT_TIMEOUT_S = 10.0

TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
    '"task": {"type": "worker", "index": 0}}'
)
_JOB_TYPES = ("chief", "worker")

_SHARD_POLICIES = {
    "data": tf.data.experimental.AutoShardPolicy.DATA,
    "file": tf.data.experimental.AutoShardPolicy.FILE,
    "off": tf.data.experimental.AutoShardPolicy.OFF,
}


# ---------------------------------------------------------------- strategies
def _default_strategy(tpu_address, devices, collective_timeout_s, cluster_timeout_s):
    return tf.distribute.get_strategy()


def _mirrored_strategy(tpu_address, devices, collective_timeout_s, cluster_timeout_s):
    return _MirroredStrategy(devices=devices)


_mirrored_count = itertools.count(1)


class _MirroredStrategy(tf.distribute.MirroredStrategy):
    """MirroredStrategy whose collective keys differ from other instances'.

    MirroredStrategy all-reduces with collective ops, keyed by group and
    instance numbers that every instance starts from the same base. A second
    MirroredStrategy over the same devices in one process (a second run in a
    notebook, a test suite) then reuses the first one's keys, and a model
    with other shapes fails with "Shape mismatch in the collective
    instance". Each instance made here gets its own key range, as
    TensorFlow's own tests do (`_collective_key_base`).
    """

    def __init__(self, devices=None, cross_device_ops=None):
        self._collective_key_base = 100_000 * next(_mirrored_count)
        super().__init__(devices=devices, cross_device_ops=cross_device_ops)


def _multi_worker_strategy(tpu_address, devices, collective_timeout_s, cluster_timeout_s):
    config = parse_tf_config(os.environ.get("TF_CONFIG"))
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=collective_timeout_s
    )
    if cluster_timeout_s is not None:
        _bound_cluster_registration(config["cluster"], cluster_timeout_s)
    try:
        return _MultiWorkerMirroredStrategy(communication_options=options)
    except tf.errors.DeadlineExceededError:
        raise TimeoutError(
            f"Not all workers of TF_CONFIG's cluster {config['cluster']} came up "
            f"within {cluster_timeout_s:g} s. Start every worker with the same "
            "cluster and its own task (this one: "
            f"{config['task']['type']} {config['task']['index']}), and check "
            "the addresses and ports."
        ) from None


def _bound_cluster_registration(cluster, timeout_s):
    """Configures TensorFlow's coordination service as MultiWorkerMirroredStrategy
    would, plus a bound on the wait for all workers to register."""
    try:
        from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
        from tensorflow.python.distribute import multi_worker_util
        from tensorflow.python.eager import context
    except ImportError:  # another TensorFlow layout: keep its defaults
        return
    if context.context().coordination_service is not None:
        return
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(tf.train.ClusterSpec(cluster)),
        coordinated_jobs=[
            coordination_config_pb2.CoordinatedJob(name=job, num_tasks=len(cluster[job]))
            for job in _JOB_TYPES
            if job in cluster
        ],
        cluster_register_timeout_in_ms=int(math.ceil(timeout_s * 1000)),
    )
    # Every task waits for all to register in Connect, bounded by the timeout.
    context.context().coordination_service.cluster_register_with_barrier = True


class _MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """MultiWorkerMirroredStrategy whose `reduce` takes what keras' `fit` gives it.

    Keras 3.15's `fit` under a multi-worker strategy fails without this
    (keras-team/keras#20585): before its first step it reduces a whole
    `(x, y)` batch with one `strategy.reduce` call, which TensorFlow's
    multi-worker `reduce` refuses ("Attempt to convert a value
    (PerReplica...)"), and after every step it reduces each scalar metric
    with `axis=0`, which fails on scalars ("Invalid reduction dimension 0").
    This reduces each leaf of a nest on its own, and scalars across replicas
    (`axis=None`): the mean over replicas that keras takes for the scalar
    logs of every other strategy.
    """

    def reduce(self, reduce_op, value, axis):
        parent = super().reduce

        def reduce_one(v):
            local = v.values[0] if isinstance(v, tf.distribute.DistributedValues) else v
            shape = getattr(local, "shape", None)
            scalar = shape is not None and shape.rank == 0
            return parent(reduce_op, v, None if scalar else axis)

        return tf.nest.map_structure(reduce_one, value)


def _tpu_strategy(tpu_address, devices, collective_timeout_s, cluster_timeout_s):
    resolver = _tpu_resolver(tpu_address)
    if tpu_address not in (None, "", "local"):
        tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


# The one mapping from strategy names to constructors.
STRATEGIES = {
    "default": _default_strategy,
    "mirrored": _mirrored_strategy,
    "multi_worker": _multi_worker_strategy,
    "tpu": _tpu_strategy,
}


def available():
    """Names accepted by `make_strategy`.

    Returns:
        list of str.

    Examples:

    >>> keras_tna.distribute.available()
    ['default', 'mirrored', 'multi_worker', 'tpu']
    """
    return list(STRATEGIES)


def make_strategy(
    name="default",
    tpu_address=None,
    *,
    devices=None,
    collective_timeout_s=DEFAULT_COLLECTIVE_TIMEOUT_S,
    cluster_timeout_s=DEFAULT_CLUSTER_TIMEOUT_S,
):
    """Returns the `tf.distribute.Strategy` for a strategy name.

    - `"default"`: the current strategy (one device, unless the caller is
      already inside a strategy's scope).
    - `"mirrored"`: `MirroredStrategy` over all local GPUs (or `devices`).
    - `"multi_worker"`: `MultiWorkerMirroredStrategy` with the cluster from the
      `TF_CONFIG` environment variable, which is checked first (see
      `parse_tf_config`). Collective operations wait at most
      `collective_timeout_s` for their peers, and TensorFlow's peer health
      check aborts them when a peer is down, so that a dead worker stops the
      others with an error instead of a hang (see `stop_on_peer_failure`).
      The constructor waits until every worker named in `TF_CONFIG` is up,
      at most `cluster_timeout_s` (a worker started with a wrong task index or
      port then fails with a `TimeoutError` instead of waiting forever).
    - `"tpu"`: `TPUStrategy` for the TPU `tpu_address`: `"local"` (a TPU VM),
      a Cloud TPU name, or `"grpc://host:port"`. The address must accept a
      TCP connection within a few seconds, checked before TensorFlow
      connects (which would otherwise wait for a long time).

    Create the strategy at the start of the program, before other TensorFlow
    work ("multi_worker" starts a server and a TPU system is initialised).

    Args:
        name: str. One of `available()`. Defaults to `"default"`.
        tpu_address: str or None. The TPU for `"tpu"`; ignored otherwise.
        devices: list of str or None. Devices for `"mirrored"` (default: all
            local GPUs, else the CPU).
        collective_timeout_s: float or None. Timeout of each collective
            operation under `"multi_worker"`, in seconds; None waits forever.
            Defaults to `DEFAULT_COLLECTIVE_TIMEOUT_S` (600).
        cluster_timeout_s: float or None. How long `"multi_worker"` waits at
            start-up for all workers, in seconds; None waits forever.
            Defaults to `DEFAULT_CLUSTER_TIMEOUT_S` (900).

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        ValueError: unknown name, malformed `TF_CONFIG`, a TPU address that
            does not answer.
        TimeoutError: the cluster's workers did not all come up in time.

    Examples:

    >>> keras_tna.distribute.make_strategy("default").num_replicas_in_sync
    1
    >>> strategy = keras_tna.distribute.make_strategy("mirrored")  # doctest: +SKIP
    """
    if not isinstance(name, str) or name not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy {name!r}. Known strategies: {available()}. "
            f"Received: name={name!r}"
        )
    for key, value in (
        ("collective_timeout_s", collective_timeout_s),
        ("cluster_timeout_s", cluster_timeout_s),
    ):
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not value > 0
        ):
            raise ValueError(
                f"`{key}` must be a positive number of seconds or None. "
                f"Received: {key}={value!r}"
            )
    return STRATEGIES[name](tpu_address, devices, collective_timeout_s, cluster_timeout_s)


def parse_tf_config(text):
    """Parses and checks a `TF_CONFIG` for "multi_worker"; one-line errors.

    The expected shape (each worker gets the same cluster and its own task):

        {"cluster": {"worker": ["host1:12345", "host2:12345"]},
         "task": {"type": "worker", "index": 0}}

    An optional `"chief": ["host0:12345"]` job may come beside `"worker"`.

    Args:
        text: str or None. The `TF_CONFIG` value (a JSON object).

    Returns:
        dict, the parsed `TF_CONFIG`.

    Raises:
        ValueError: missing or not JSON, no worker list, addresses that are not
            `host:port`, a task whose type or index is not in the cluster.

    Examples:

    >>> cfg = keras_tna.distribute.parse_tf_config(
    ...     '{"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]},'
    ...     ' "task": {"type": "worker", "index": 1}}')
    >>> cfg["task"]["index"]
    1
    """
    expected = f"Expected e.g. TF_CONFIG='{TF_CONFIG_EXAMPLE}'"
    if not text:
        raise ValueError(
            "strategy 'multi_worker' needs the TF_CONFIG environment variable "
            f"(the cluster and this worker's task). {expected}. Received: "
            f"TF_CONFIG={text!r}"
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"TF_CONFIG is not valid JSON ({e.msg} at character {e.pos}). "
            f"{expected}. Received: TF_CONFIG={text!r}"
        ) from None
    if not isinstance(config, dict):
        raise ValueError(
            f"TF_CONFIG must be a JSON object. {expected}. Received: "
            f"TF_CONFIG={text!r}"
        )
    cluster = config.get("cluster")
    if not isinstance(cluster, dict) or not cluster.get("worker"):
        raise ValueError(
            "TF_CONFIG needs a 'cluster' with a non-empty 'worker' list of "
            f"'host:port' addresses. {expected}. Received: TF_CONFIG={text!r}"
        )
    others = sorted(set(cluster) - set(_JOB_TYPES))
    if others:
        raise ValueError(
            f"TF_CONFIG's cluster may only have the jobs {list(_JOB_TYPES)} for "
            f"'multi_worker'; remove {others}. Received: TF_CONFIG={text!r}"
        )
    seen = set()
    for job, addresses in cluster.items():
        if not isinstance(addresses, list) or (job == "chief" and len(addresses) != 1):
            raise ValueError(
                f"TF_CONFIG's cluster['{job}'] must be a list of 'host:port' "
                f"strings{' with one entry' if job == 'chief' else ''}. "
                f"{expected}. Received: TF_CONFIG={text!r}"
            )
        for address in addresses:
            _check_host_port(address, f"TF_CONFIG's cluster['{job}']", text)
            if address in seen:
                raise ValueError(
                    f"TF_CONFIG names the address {address!r} twice; each task "
                    f"needs its own host:port. Received: TF_CONFIG={text!r}"
                )
            seen.add(address)
    task = config.get("task")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ValueError(
            "TF_CONFIG needs a 'task' {'type': ..., 'index': ...} naming this "
            f"worker. {expected}. Received: TF_CONFIG={text!r}"
        )
    task_type, index = task["type"], task["index"]
    if task_type not in cluster:
        raise ValueError(
            f"TF_CONFIG's task type {task_type!r} is not a job of its cluster "
            f"{sorted(cluster)}. Received: TF_CONFIG={text!r}"
        )
    size = len(cluster[task_type])
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
        raise ValueError(
            f"TF_CONFIG's task index must be an int in [0, {size}) for the "
            f"{size} '{task_type}' address(es) of the cluster. Received: "
            f"task={task!r}"
        )
    return config


def _check_host_port(address, where, text):
    host, _, port = address.rpartition(":") if isinstance(address, str) else ("", "", "")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"{where} holds {address!r}, which is not a 'host:port' address "
            f"(e.g. '10.0.0.2:12345'). Received: TF_CONFIG={text!r}"
        )


def _tpu_resolver(tpu_address, connect_timeout_s=DEFAULT_TPU_CONNECT_TIMEOUT_S):
    """A TPUClusterResolver for `tpu_address`, whose TPU answers, else ValueError."""
    if tpu_address is not None and not isinstance(tpu_address, str):
        raise TypeError(
            "`tpu_address` must be a str: 'local' on a TPU VM, a Cloud TPU "
            f"name or 'grpc://host:port'. Received: tpu_address={tpu_address!r}"
        )
    if tpu_address in (None, "", "local"):
        if not tf.config.list_physical_devices("TPU"):
            raise ValueError(
                "strategy 'tpu' with tpu_address='local' needs a TPU VM, and "
                "this machine has no TPU device. Pass the TPU's name or "
                "'grpc://host:8470' (--tpu_address). Received: "
                f"tpu_address={tpu_address!r}"
            )
        return tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
    if "://" in tpu_address and not tpu_address.startswith("grpc://"):
        raise ValueError(
            "A TPU address must be 'local', a Cloud TPU name or "
            f"'grpc://host:port'. Received: tpu_address={tpu_address!r}"
        )
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address)
        master = resolver.master()
    except Exception as e:  # name lookups go through the Cloud TPU API
        raise ValueError(
            f"Could not resolve the TPU {tpu_address!r} "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
            "check the name, zone and project, or pass 'grpc://host:8470'. "
            f"Received: tpu_address={tpu_address!r}"
        ) from None
    parsed = urllib.parse.urlparse(master)
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise ValueError(
            f"The TPU address {master!r} is not 'grpc://host:port'. "
            f"Received: tpu_address={tpu_address!r}"
        )
    try:
        socket.create_connection((host, port), timeout=connect_timeout_s).close()
    except OSError as e:
        raise ValueError(
            f"The TPU at {host}:{port} does not answer ({e.strerror or e}, "
            f"waited at most {connect_timeout_s:g} s); check that it is up and "
            "reachable from this machine. Received: "
            f"tpu_address={tpu_address!r}"
        ) from None
    return resolver


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
    if synchronized and keras.backend.backend() != "tensorflow":
        raise ValueError(
            "Synchronised BatchNorm needs the TensorFlow backend (keras' "
            "BatchNormalization(synchronized=True)). Received: backend="
            f"{keras.backend.backend()!r}"
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
