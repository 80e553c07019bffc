"""The checks of a run's settings that need a registry, a file or several settings.

Each setting's own rule (type, bounds, choices) is `keras_tna.settings`'s;
what is checked here needs more: network and dataset names (their
registries), `network_args` (JSON), `twin_reinit` against the networks, the
frozen twin's file, the output directory, and the warm-up against the run.
`keras_tna.runs.config.TrainConfig.validate` and the flags of `apps/train.py`
(`keras_tna.cli.train_flags`) both call these. Nothing here imports
TensorFlow.
"""

import json
import os
import pathlib
import zipfile

from keras_tna import network_names


def check_warmup(warmup_epochs, epochs):
    """Raises ValueError unless the warm-up is shorter than the run.

    Args:
        warmup_epochs: float. The warm-up length.
        epochs: int. The run's length.
    """
    if warmup_epochs >= epochs:
        raise ValueError(
            "warmup_epochs must be smaller than epochs. Received: "
            f"warmup_epochs={warmup_epochs}, epochs={epochs}"
        )


def check_schedule_warmup(schedule, warmup_epochs):
    """Raises ValueError for a warm-up with `schedule="cosine_epoch"` (it has none).

    Args:
        schedule: str. One of `SCHEDULES`.
        warmup_epochs: float. The warm-up length.
    """
    if schedule == "cosine_epoch" and warmup_epochs:
        raise ValueError(
            "`schedule='cosine_epoch'` has no warm-up (as the paper's code): "
            "set warmup_epochs=0 or use schedule='cosine'. Received: "
            f"warmup_epochs={warmup_epochs}"
        )


def check_network(name, field="model"):
    """Raises ValueError unless `name` is a network `keras_tna.models` builds.

    Args:
        name: str. A `keras_tna.models.available()` name, `keras_hub:<Class>`
            or `keras_cv:<Class>`.
        field: str. The setting that holds it (for the message).
    """
    known = network_names.available()
    prefixes = (network_names.KERAS_HUB_PREFIX, network_names.KERAS_CV_PREFIX)
    if not isinstance(name, str) or not (name in known or name.startswith(prefixes)):
        raise ValueError(
            f"Unknown network {name!r}. Known networks: {', '.join(known)} (or "
            f"{prefixes[0]}<BackboneClass>, {prefixes[1]}<BackboneClass>). "
            f"Received: {field}={name!r}"
        )


def parse_network_args(value):
    """The keyword arguments a `network_args` JSON object names.

    Args:
        value: str or None. A JSON object, e.g. `'{"width": 2}'`.

    Returns:
        dict (empty for None).

    Examples:

    >>> parse_network_args('{"width": 2}')
    {'width': 2}
    """
    if value is None:
        return {}
    try:
        kwargs = json.loads(value)
    except (TypeError, ValueError) as error:
        raise ValueError(
            "`network_args` must be a JSON object of the network's keyword "
            "arguments, e.g. '{\"width\": 2}' (quote it for the shell). "
            f"Received: network_args={value!r} ({error})"
        ) from None
    if not isinstance(kwargs, dict):
        raise ValueError(
            "`network_args` must be a JSON object (a {...} of keyword "
            f"arguments). Received: network_args={value!r}"
        )
    taken = sorted(set(kwargs) & set(_RUN_NETWORK_ARGUMENTS))
    if taken:
        raise ValueError(
            f"`network_args` must not set {taken}: the run passes them itself "
            "(use --seed, --weight_decay, --kernel_initializer, --dataset). "
            f"Received: network_args={value!r}"
        )
    return kwargs


# What `keras_tna.training` passes to `models.build` itself, from other settings.
_RUN_NETWORK_ARGUMENTS = (
    "num_classes", "input_shape", "seed", "weight_decay", "kernel_initializer",
)


def parse_twin_reinit(value):
    """`"all"`, or the list of layer names a `twin_reinit` string names.

    Args:
        value: str. `"all"`, `"none"` or comma-separated layer names.

    Returns:
        `"all"`, or a list of str (empty for `"none"`).

    Examples:

    >>> parse_twin_reinit("block_1, logits")
    ['block_1', 'logits']
    >>> parse_twin_reinit("none")
    []
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            "`twin_reinit` must be 'all' (an independently initialised twin), "
            "'none' (a copy of the base) or comma-separated layer names of the "
            f"base, e.g. 'block_1'. Received: twin_reinit={value!r}"
        )
    value = value.strip()
    if value in ("all", "none"):
        return "all" if value == "all" else []
    names = [name.strip() for name in value.split(",")]
    if not all(names) or {"all", "none"} & set(names):
        raise ValueError(
            "`twin_reinit` takes 'all', 'none' or a comma-separated list of "
            "layer names without empty entries. "
            f"Received: twin_reinit={value!r}"
        )
    return names


def check_twin_reinit(value, model, twin_model):
    """Raises ValueError unless `value` is a valid `twin_reinit` for these networks.

    A twin that copies the base must be the base's network. Layer names are
    checked against the network when it is built (`keras_tna.make_twin`).

    Args:
        value: str. The `twin_reinit` setting.
        model: str. The base network's name.
        twin_model: str or None. The twin network's name.
    """
    if parse_twin_reinit(value) != "all" and twin_model not in (None, model):
        raise ValueError(
            "`twin_reinit` other than 'all' copies the base into the twin, so the "
            f"twin must be the base's network {model!r}: leave --twin_model "
            f"unset. Received: twin_reinit={value!r}, twin_model={twin_model!r}"
        )


def check_twin_checkpoint(path):
    """Raises unless `path` names an existing `.keras` file (the frozen twin).

    Args:
        path: str or None. The twin checkpoint.
    """
    if not path:
        raise ValueError(
            "method='frozen_twin' needs --twin_checkpoint=<run dir>/base.keras "
            "(the pretrained twin) of a finished run. "
            "Received: twin_checkpoint=None"
        )
    if not str(path).endswith(".keras"):
        raise ValueError(
            "The twin checkpoint must be a .keras file written by "
            "apps/train.py (<run dir>/base.keras). "
            f"Received: twin_checkpoint={path!r}"
        )
    if os.path.isdir(path):
        raise ValueError(
            f"The frozen twin checkpoint {path!r} is a directory; pass the "
            ".keras file of the pretrained network (<run dir>/base.keras). "
            f"Received: twin_checkpoint={path!r}"
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"The frozen twin checkpoint {path!r} does not exist; train the twin "
            "first (its run writes <output_dir>/base.keras) or fix "
            f"--twin_checkpoint. Received: twin_checkpoint={path!r}"
        )
    problem = _keras_file_problem(path)
    if problem:
        raise ValueError(
            f"The frozen twin checkpoint {path!r} is not a .keras file keras "
            f"can load: {problem}. Copy it again or retrain the twin (its run "
            f"writes <output_dir>/base.keras). Received: twin_checkpoint={path!r}"
        )


def _keras_file_problem(path):
    """Why `path` is not a `.keras` archive (a zip with config.json), or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError):
        return "it is not a zip archive (truncated, or written by something else)"
    if "config.json" not in names:
        return "the archive holds no config.json"
    if broken is not None:
        return f"the archive's member {broken} is damaged (truncated?)"
    return None


def check_output_dir(path):
    """Raises ValueError unless `path` is, or can become, a writable directory.

    Nothing is created: the nearest existing folder on the path must be a
    directory this user may write to.

    Args:
        path: str. The run's directory (`--output_dir`).
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise ValueError(
            "--output_dir must name a directory for the run's files. "
            f"Received: output_dir={path!r}"
        )
    full = pathlib.Path(os.path.expanduser(path)).absolute()
    existing = next(p for p in (full, *full.parents) if p.exists() or p == p.parent)
    if existing == full and full.is_file():
        raise ValueError(
            f"--output_dir={str(path)!r} is a file, not a directory. Pass "
            f"another --output_dir. Received: output_dir={str(path)!r}"
        )
    if not existing.is_dir():
        raise ValueError(
            f"--output_dir={str(path)!r} lies below {str(existing)!r}, which is "
            "a file, not a directory; pass a directory path. "
            f"Received: output_dir={str(path)!r}"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"--output_dir={str(path)!r} is not writable: this user may not "
            f"create files in {str(existing)!r}. Pass a writable directory. "
            f"Received: output_dir={str(path)!r}"
        )
