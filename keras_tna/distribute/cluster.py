"""The cluster of `TF_CONFIG`: its shape checked, its tasks awaited.

`parse_tf_config` checks a `TF_CONFIG` for "multi_worker" with one-line
errors; `wait_for_peers` waits, in Python, until every other task of the
cluster accepts connections (saying which ones do not yet). Plain Python
(sockets, JSON), no TensorFlow: `keras_tna.distribute.strategies` builds the
strategy from it. Part of `keras_tna.distribute`, which re-exports its public
names.
"""

import json
import signal
import socket
import threading
import time

TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
    '"task": {"type": "worker", "index": 0}}'
)
JOB_TYPES = ("chief", "worker")

# Seconds between two "waiting for worker ..." lines while the cluster forms.
PEER_WAIT_REPORT_S = 30.0


def _task_addresses(config):
    """`[(job, index, address)]` of TF_CONFIG's cluster, this task first."""
    me = (config["task"]["type"], config["task"]["index"])
    tasks = [
        (job, index, address)
        for job in JOB_TYPES
        for index, address in enumerate(config["cluster"].get(job, []))
    ]
    return sorted(tasks, key=lambda t: (t[0], t[1]) != me)


def _answers(address):
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=1).close()
        return True
    except OSError:
        return False


def wait_for_peers(config, timeout_s, report_s=None):
    """Waits, in Python, until every other task of TF_CONFIG accepts connections.

    TensorFlow's own wait (in the strategy's constructor) holds the
    interpreter for up to `timeout_s` without a word, and takes SIGTERM as a
    preemption notice. Here, before it, this task listens on its own port
    (so that peers waiting the same way see it; TensorFlow's server takes
    the port over afterwards) and polls the others, printing at once and
    then every `report_s` seconds which tasks do not answer yet. SIGTERM
    meanwhile raises `InterruptedError` (one line); running past `timeout_s`
    raises `TimeoutError`.

    Args:
        config: dict. The parsed `TF_CONFIG` (`parse_tf_config`).
        timeout_s: float or None. Seconds to wait; None waits forever.
        report_s: float or None. Seconds between two messages; default
            `PEER_WAIT_REPORT_S`.

    Returns:
        float, the seconds waited.
    """
    report_s = PEER_WAIT_REPORT_S if report_s is None else report_s
    (_, _, own), *others = _task_addresses(config)
    start = time.monotonic()
    listener = _listen(own)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        next_report = 0.0
        while True:
            missing = [f"{job} {index} at {a}" for job, index, a in others if not _answers(a)]
            elapsed = time.monotonic() - start
            if not missing:
                return elapsed
            if timeout_s is not None and elapsed >= timeout_s:
                raise TimeoutError(
                    f"Not all workers of TF_CONFIG's cluster came up within "
                    f"{timeout_s:g} s (--peer_timeout_s); still missing: "
                    f"{', '.join(missing)}. Start every worker with the same "
                    "cluster and its own task (this one: "
                    f"{config['task']['type']} {config['task']['index']}), check "
                    "the addresses and ports, or raise --peer_timeout_s."
                )
            if elapsed >= next_report:
                next_report += report_s
                limit = (
                    f"giving up after {timeout_s:g} s (--peer_timeout_s)"
                    if timeout_s is not None
                    else "no time limit"
                )
                print(
                    f"Waiting for {', '.join(missing)} (TF_CONFIG) to start: "
                    f"{elapsed:.0f} s so far, {limit} ...",
                    flush=True,
                )
            _drain(listener)
            time.sleep(0.5)
    except InterruptedError:
        raise InterruptedError(
            "Stopped by SIGTERM while waiting for the workers of TF_CONFIG "
            f"({', '.join(f'{j} {i} at {a}' for j, i, a in others)}); nothing "
            "was trained."
        ) from None
    finally:
        if listener is not None:
            listener.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupted(signum, frame):
    raise InterruptedError("SIGTERM")


def _listen(address):
    """A socket listening on this task's port, or None where it is taken."""
    port = int(address.rpartition(":")[2])
    try:
        listener = socket.create_server(("", port), reuse_port=False)
    except OSError:
        return None  # e.g. taken already: the peers then see whatever holds it
    listener.setblocking(False)
    return listener


def _drain(listener):
    """Accepts and closes the peers' probes, so the backlog never fills."""
    if listener is None:
        return
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        connection.close()


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
    others = sorted(set(cluster) - set(JOB_TYPES))
    if others:
        raise ValueError(
            f"TF_CONFIG's cluster may only have the jobs {list(JOB_TYPES)} for "
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
