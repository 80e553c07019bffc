"""TensorFlow's start-up noise, dropped before it reaches a newcomer's terminal.

On a machine without a GPU, `import tensorflow` and its first device query
print C++ log lines such as `E0000 ... failed call to cuInit` and the CPU
feature notice. They are written before TensorFlow reads
`TF_CPP_MIN_LOG_LEVEL`, so that variable does not silence them.
`quiet_tensorflow_start()` imports TensorFlow and queries its devices with the
process' stderr redirected to a file, then writes back every line except those
known start-up notices (`NOISE`): warnings and errors of any other kind, and
any exception, still reach stderr.
"""

import json
import os
import re
import sys
import tempfile

# Lines that TensorFlow prints at start on a CPU-only machine; nothing else
# is dropped.
NOISE = re.compile(
    "|".join(
        [
            r"All log messages before absl::InitializeLog\(\) is called",
            r"cudart_stub\.cc.*Could not find cuda drivers",
            r"cuda_platform\.cc.*failed call to cuInit",
            r"cuda_executor\.cc.*(kernel driver does not appear|CUDA_ERROR_NO_DEVICE)",
            r"cpu_feature_guard\.cc",
            r"^To enable the following instructions: .*rebuild TensorFlow",
            r"oneDNN custom operations are on",
            r"Unable to register cu(DNN|FFT|BLAS) factory",
            r"computation_placer\.cc.*already registered",
            r"TF-TRT Warning: Could not find TensorRT",
        ]
    )
)


def keras_backend():
    """The Keras backend that will run, read without importing Keras."""
    name = os.environ.get("KERAS_BACKEND")
    if name:
        return name
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    try:
        with open(os.path.join(home, "keras.json")) as f:
            return json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


_STARTED = []  # set once TensorFlow's devices were queried here


def quiet_tensorflow_start():
    """Loads TensorFlow and its devices with the start-up notices dropped.

    Imports TensorFlow (unless it is imported already) and queries its devices
    (the query that prints the `cuInit` line) with stderr captured, then writes
    back every line not in `NOISE`. Runs once per process, and not at all when
    Keras runs on another backend. Sets `TF_CPP_MIN_LOG_LEVEL=1` (INFO off;
    warnings and errors on) unless it is set. Lines TensorFlow printed before
    (an earlier `import keras`) are out of its reach.

    Examples:

    >>> quiet_tensorflow_start()  # afterwards TensorFlow starts silently
    """
    if _STARTED or keras_backend() != "tensorflow":
        return
    _STARTED.append(True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        return  # no real stderr (an embedding host): nothing to filter
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # the cuInit notice comes here
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines() if not NOISE.search(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
