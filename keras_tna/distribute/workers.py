"""The workers of a cluster: who is who, who keeps files, a lost peer.

`worker_index`, `num_workers`, `is_chief` (the chief's files are kept),
`checkpoint_dir_for_worker`, `worker_dir`, `remove_worker_dir`,
`BackupAndRestore` (every worker saves, only the chief into the kept
directory), `stop_on_peer_failure` (a dead worker becomes a one-line error).
Part of `keras_tna.distribute`, which re-exports every public name.
"""

import contextlib
import os
import shutil
import tempfile

import keras
import tensorflow as tf


# ---------------------------------------------------------------- workers
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
