"""tf.distribute strategies by name, with `TF_CONFIG` and TPU checks that fail early.

`make_strategy(name, ...)` (names: `available()`), each strategy's
constructor (the multi-worker one after its cluster is checked and awaited:
`keras_tna.distribute.cluster`), the TPU resolver. Part of
`keras_tna.distribute`, which re-exports every public name.
"""

import itertools
import math
import os
import socket
import urllib.parse

import tensorflow as tf

from keras_tna.distribute.cluster import JOB_TYPES, parse_tf_config, wait_for_peers

# Seconds a collective operation (gradient all-reduce, synchronised
# BatchNorm, ...) may wait for its peers under "multi_worker" before it fails.
DEFAULT_COLLECTIVE_TIMEOUT_S = 600.0
# Seconds "multi_worker" waits at start-up for every worker of the cluster.
DEFAULT_CLUSTER_TIMEOUT_S = 900.0
# Seconds the TPU address gets to accept a TCP connection.
DEFAULT_TPU_CONNECT_TIMEOUT_S = 10.0


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
    waited = wait_for_peers(config, cluster_timeout_s)
    if cluster_timeout_s is not None:
        # Every peer answers now; they still need a moment to register.
        _bound_cluster_registration(
            config["cluster"], max(cluster_timeout_s - waited, 60.0)
        )
    try:
        return _MultiWorkerMirroredStrategy(communication_options=options)
    except tf.errors.DeadlineExceededError:
        raise TimeoutError(
            f"Not all workers of TF_CONFIG's cluster {config['cluster']} came up "
            f"within {cluster_timeout_s:g} s (--peer_timeout_s). Start every "
            "worker with the same cluster and its own task (this one: "
            f"{config['task']['type']} {config['task']['index']}), and check "
            "the addresses and ports."
        ) from None


def _bound_cluster_registration(cluster, timeout_s):
    """Configures TensorFlow's coordination service as MultiWorkerMirroredStrategy
    would, plus a bound on the wait for all workers to register."""
    try:  # TensorFlow has no public API for the coordination service's settings
        from tensorflow.python.eager import context
    except ImportError:  # another TensorFlow layout: keep its defaults
        return
    if context.context().coordination_service is not None:
        return
    service = tf.compat.v1.ConfigProto().experimental.coordination_config  # public
    for job in JOB_TYPES:
        if job in cluster:
            service.coordinated_job_list.add(name=job, num_tasks=len(cluster[job]))
    context.context().configure_coordination_service(
        service_type="standalone",
        # The strategy's own leader: the chief, else worker 0.
        service_leader=f"/job:{'chief' if 'chief' in cluster else 'worker'}/replica:0/task:0",
        coordinated_jobs=list(service.coordinated_job_list),
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
