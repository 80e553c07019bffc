"""Atomic file writes: temporary file, fsync, rename.

`keras_tna.runs.record.RunRecord` writes every file of a run through
`atomic_write`, and the reports and analyses write their markdown, CSV,
JSON and PNG files through it, so a kill at any moment leaves either the
old or the new file, never a torn one. `fault_hook` lets tests inject a kill or an OSError
at a chosen step of a chosen write. No TensorFlow is imported here.
"""

import os
import pathlib

# The name of a write's temporary file: TMP_PREFIX, the writer's pid, "-", the
# file's name. A killed writer leaves it; `RunRecord` recognises it by this.
TMP_PREFIX = ".tmp-"

# Tests set this to a function `hook(event, path)`, called at every step of
# every write ("write", "written", "replaced", "unit", "prune"), to inject a
# kill or an OSError at a chosen moment.
fault_hook = None


def fault_step(event, path):
    """Calls `fault_hook(event, path)` when a test has set one."""
    if fault_hook is not None:
        fault_hook(event, pathlib.Path(path))


class RunWriteError(OSError):
    """A run's file could not be written (disk full, no permission, ...).

    `str()` is the one-line message; `errno` and `filename` are the failed
    write's.
    """

    def __str__(self):
        return self.message

    def __init__(self, message, errno=None, filename=None):
        super().__init__(message)
        self.message = message
        self.errno, self.filename = errno, filename


def fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path):
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def atomic_write(path, write):
    """Writes one file atomically: temporary file, flush + fsync, rename.

    Args:
        path: path-like. The file to (re)place.
        write: callable taking the temporary path (same directory, same
            suffix) and writing the whole content there; or str/bytes.

    Raises:
        OSError: from the write; the old file is then unchanged and the
            temporary file removed.

    Examples:

    ```python
    atomic_write("runs/x/results.json", json.dumps(results))
    atomic_write("runs/x/base.keras", base.save)  # keras writes the temporary file
    atomic_write("report.png", lambda tmp: figure.savefig(tmp, dpi=120))
    ```
    """
    path = pathlib.Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")
    if isinstance(write, (str, bytes)):
        data = write.encode() if isinstance(write, str) else write
        write = lambda target: pathlib.Path(target).write_bytes(data)  # noqa: E731
    fault_step("write", path)
    try:
        write(str(tmp))
        _fsync_file(tmp)
        fault_step("written", path)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    fsync_dir(path.parent)
    fault_step("replaced", path)
