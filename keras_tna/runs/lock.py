"""`RunLock`: one live writer per run directory.

The lock is `D/run.lock`, held with `fcntl.flock` for the life of the run
(the kernel drops it when the holder dies, even on SIGKILL) and holding one
line of JSON: the holder's pid, host and start time, for the message a second
process gets. A lock file left by a dead holder is taken over with a message.
Where `flock` is unavailable (Windows), the file alone is the lock.
"""

import datetime
import json
import os
import pathlib
import socket

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


class RunLockedError(ValueError):
    """Another process holds the run directory."""


def _holder_text(holder):
    if not holder:
        return "another process (its lock file is empty)"
    return (
        f"pid {holder.get('pid')} on host {holder.get('host')} since "
        f"{holder.get('since')}"
    )


def _read_holder(path):
    try:
        value = json.loads(pathlib.Path(path).read_text() or "null")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _pid_alive(pid):
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """The lock of one run directory; a context manager.

    Args:
        path: str or path-like. The lock file (`D/run.lock`); its directory
            is created when missing.

    Examples:

    ```python
    with RunLock("runs/tna_s0/run.lock"):
        ...  # the only process writing runs/tna_s0
    ```
    """

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self._fd = None
        self.taken_over = None

    def check(self):
        """Raises `RunLockedError` if a live process holds the lock (no side effects)."""
        if not self.path.is_file():
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise self._locked_error() from None
            else:
                holder = _read_holder(self.path)
                if holder and _pid_alive(holder.get("pid")):
                    raise self._locked_error()
        finally:
            os.close(fd)

    def _locked_error(self):
        run_dir = self.path.parent
        return RunLockedError(
            f"{run_dir} is in use by {_holder_text(_read_holder(self.path))} "
            f"(lock file {self.path}); wait for that run to end or stop it, or "
            f"pass another --output_dir. Received: output_dir={str(run_dir)!r}"
        )

    def acquire(self):
        """Takes the lock or raises `RunLockedError` at once (never waits)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                self.check()
        except (BlockingIOError, RunLockedError):
            os.close(fd)
            raise self._locked_error() from None
        previous = _read_holder(self.path)
        host = socket.gethostname()
        if previous and previous.get("pid") != os.getpid():
            if previous.get("host") not in (None, host):
                os.close(fd)
                raise RunLockedError(
                    f"{self.path.parent} was locked by {_holder_text(previous)} "
                    f"and never released; this host ({host}) cannot tell whether "
                    f"that run still lives. If it does not, delete {self.path} "
                    f"and run again. Received: output_dir={str(self.path.parent)!r}"
                )
            self.taken_over = previous
            print(
                f"Taking over {self.path}: its holder, {_holder_text(previous)}, "
                "is no longer running.",
                flush=True,
            )
        since = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        holder = json.dumps({"pid": os.getpid(), "host": host, "since": since})
        os.ftruncate(fd, 0)
        os.pwrite(fd, (holder + "\n").encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self):
        """Deletes the lock file and drops the lock."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
