"""Finding and reading training runs: the one reader of the run directory contract.

`collect` reads the `results.json` files under some paths (for
`keras_tna.reporting`), `read_history` a run's `history.csv`; `read_run` and
`find_runs` give `Run` objects with the networks' files (for
`keras_tna.analysis`). Every file is read through
`keras_tna.runs.record.RunRecord`, the owner of the run directory.
"""

import collections
import os
import pathlib

import numpy as np

from keras_tna import methods
from keras_tna.runs import layout
from keras_tna.runs.record import RunRecord


def collect(paths, seeds=None):
    """Reads every `results.json` under the given paths.

    Args:
        paths: list of str or path. Run directories, directories holding runs
            (searched recursively) or `results.json` files.
        seeds: list of int or None. Keep only the runs of these seeds (a table
            over a seed list fixed in advance); None keeps every run.

    Returns:
        list of dict: the results, each with `run_dir` added.

    Raises:
        FileNotFoundError: a path does not exist, or no results were found
            (of the given seeds).

    Examples:

    ```python
    results = collect(["runs/quickstart"])
    ```
    """
    if isinstance(paths, (str, pathlib.Path)):
        paths = [paths]
    found = []
    for path in paths:
        path = pathlib.Path(path)
        if path.is_file():
            files = [path]
        elif path.is_dir():
            files = sorted(path.rglob(layout.RESULTS_FILE))
        else:
            raise FileNotFoundError(
                f"{str(path)!r} does not exist; pass run directories or "
                f"results.json files. Received: {str(path)!r}"
            )
        for file in files:
            results = _read_results(file)
            results["run_dir"] = str(file.parent)
            found.append(results)
    if seeds is not None:
        seeds = [int(seed) for seed in seeds]
        found = [results for results in found if results.get("seed") in seeds]
    if not found:
        of_seeds = "" if seeds is None else f" of seeds {seeds}"
        raise FileNotFoundError(
            f"No results.json{of_seeds} under {[str(p) for p in paths]}; train first "
            "(apps/train.py writes <output_dir>/results.json when a run ends)."
        )
    return found


def _read_results(file):
    """One results.json; a damaged one raises a one-line ValueError naming it."""
    results, problem = RunRecord(file.parent).try_read_json(file, keys=("method", "dataset"))
    if problem is not None:
        raise ValueError(
            f"{file} {problem}; it is not the results.json apps/train.py writes. "
            "Train that run again (apps/train.py with its flags.txt and "
            "--overwrite) or leave its directory out of --runs. "
            f"Received: {str(file)!r}"
        )
    return results


def check_model(model, argument="model"):
    """Raises TypeError unless `model` is a functional keras model with inputs."""
    import keras  # here: reading runs must not load TensorFlow

    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`{argument}` must be a keras.Model (e.g. from "
            "`keras_tna.analysis.load_network(path)`). "
            f"Received: {argument}={model!r}"
        )
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise TypeError(
            f"`{argument}` must be a functional or Sequential keras model with "
            "defined inputs (the analyses read intermediate layer outputs); "
            f"subclassed models are not supported. Received: {argument}="
            f"{model.name!r} ({type(model).__name__})"
        )


def load_network(path):
    """Reads a trained network from a `.keras` file, with clear errors.

    Args:
        path: str or path-like. A `.keras` file written by `apps/train.py`
            (`D/base.keras`, `D/twin.keras`) or by `model.save(...)`.

    Returns:
        The `keras.Model`.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a keras network this package can read.

    Examples:

    ```python
    base = keras_tna.analysis.load_network("runs/tna_s0/base.keras")
    ```
    """
    import keras  # here: reading runs must not load TensorFlow

    path = pathlib.Path(os.fspath(path))
    if path.is_dir():
        raise ValueError(
            f"{str(path)!r} is a directory; pass the network file inside it "
            "(e.g. base.keras), or use `read_run` for a training output dir."
        )
    if not path.is_file():
        raise FileNotFoundError(f"No network file at {str(path)!r}.")
    if path.suffix != ".keras":
        raise ValueError(
            f"{str(path)!r} is not a .keras file; save the network with "
            "`model.save('name.keras')`. Received: suffix {path.suffix!r}"
        )
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # keras raises many types for bad files
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(
            f"{str(path)!r} is not a network this package can read "
            f"({type(error).__name__}: {first[:300]}). Expected a .keras file "
            "written by apps/train.py or `model.save(...)`."
        ) from None
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"{str(path)!r} holds a {type(model).__name__}, not a keras.Model."
        )
    check_model(model)
    return model


class Run:
    """One output dir of `apps/train.py`: its results and network files.

    Attributes:
        path: pathlib.Path, the output dir.
        results: dict, the parsed `results.json`.
        method: str, e.g. `"single"`, `"tna"`, `"dml"` (lower case).
        dataset: str, the dataset name from `results.json`.
        seed: int or None.
        base_path: pathlib.Path of `base.keras`.
        twin_path: pathlib.Path of `twin.keras` or None when absent.
    """

    def __init__(self, path, results):
        self.path = pathlib.Path(path)
        self.results = results
        self.method = str(results.get("method", "")).lower()
        self.dataset = results.get("dataset")
        self.seed = results.get("seed")
        self.base_path = self.path / layout.BASE_FILE
        twin = self.path / layout.TWIN_FILE
        self.twin_path = twin if twin.is_file() else None

    @property
    def label(self):
        return f"{self.method}(seed={self.seed})"

    @property
    def status(self):
        return self.results.get("status", "completed")

    @property
    def image_size(self):
        """The `--image_size` the run was trained with (None: native size)."""
        value = self.results.get("image_size", (self.results.get("flags") or {}).get("image_size"))
        try:
            value = int(value)
        except (TypeError, ValueError):
            return None
        return value if value > 0 else None

    @property
    def data_dir(self):
        """The `--data_dir` the run was trained with, or None."""
        value = (self.results.get("flags") or {}).get("data_dir")
        return value or None

    @property
    def data_key(self):
        """What two runs must share to be compared on one evaluation set."""
        return (str(self.dataset), self.image_size)

    def load_base(self):
        return load_network(self.base_path)

    def load_twin(self):
        if self.twin_path is None:
            raise FileNotFoundError(
                f"Run {str(self.path)!r} ({self.method}) has no twin.keras; "
                "only TNA/DML runs save a twin."
            )
        return load_network(self.twin_path)

    def __repr__(self):
        return f"Run({str(self.path)!r}, method={self.method!r}, seed={self.seed})"


def read_run(path):
    """Reads one `apps/train.py` output dir (`results.json`, `base.keras`).

    Args:
        path: str or path-like, the `--output_dir` of a training run.

    Returns:
        A `Run`.

    Raises:
        FileNotFoundError: the dir, its `results.json` or `base.keras` is
            missing.
        ValueError: `results.json` is not valid JSON or lacks `method` /
            `dataset`.

    Examples:

    ```python
    run = keras_tna.analysis.read_run("runs/tna_s0")
    run.method, run.seed, run.load_base()
    ```
    """
    path = pathlib.Path(os.fspath(path))
    if not path.is_dir():
        raise FileNotFoundError(
            f"No training output dir at {str(path)!r}; pass dirs written by "
            "`apps/train.py --output_dir=...`."
        )
    results_path = path / layout.RESULTS_FILE
    if not results_path.is_file():
        raise FileNotFoundError(
            f"{str(path)!r} has no results.json; it is not a finished "
            "apps/train.py output dir."
        )
    results = _read_results(results_path)
    if not (path / layout.BASE_FILE).is_file():
        raise FileNotFoundError(
            f"{str(path)!r} has no base.keras; the run did not finish saving."
        )
    return Run(path, results)


def find_runs(paths, skip_diverged=True):
    """Reads the training runs under the given paths.

    Args:
        paths: str, path-like or list of them: run dirs, or dirs holding runs
            (e.g. a sweep's `<output_dir>` with `<method>/seed_<n>/` inside),
            searched recursively for `results.json`.
        skip_diverged: bool, leave out runs whose status is "diverged"
            (their weights hold non-finite values). Collapsed runs (finite,
            `status` "collapsed") are kept.

    Returns:
        A tuple `(runs, skipped)`: lists of `Run`, sorted by method and seed.

    Raises:
        FileNotFoundError: a path is missing or holds no finished run.

    Examples:

    ```python
    runs, skipped = keras_tna.analysis.find_runs(["runs/table1/convnet_cifar10"])
    ```
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    runs, skipped = [], []
    seen = set()
    for results in collect(list(paths)):
        path = pathlib.Path(results.pop("run_dir")).resolve()
        if path in seen:
            continue
        seen.add(path)
        if skip_diverged and results.get("status") == "diverged":
            skipped.append(Run(path, results))  # may have no base.keras
        else:
            runs.append(read_run(path))
    if not runs:
        raise FileNotFoundError(
            f"No usable run under {[str(p) for p in paths]}: all "
            f"{len(skipped)} found diverged."
        )
    runs.sort(
        key=lambda r: (
            methods.order(r.method),
            r.method,
            str(r.seed),
            str(r.path),
        )
    )
    return runs, skipped


def read_history(run_dir):
    """A run's `history.csv` as a dict of float arrays (NaN where missing).

    Args:
        run_dir: str or path-like. The run directory.

    Returns:
        dict of str to numpy array, one per column; empty without a history.
    """
    rows = RunRecord(run_dir).read_history_rows()
    columns = collections.defaultdict(list)
    for row in rows:
        for key, value in row.items():
            try:
                columns[key].append(float(value))
            except (TypeError, ValueError):
                columns[key].append(float("nan"))
    return {key: np.asarray(values) for key, values in columns.items()}
