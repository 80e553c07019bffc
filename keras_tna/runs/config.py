"""`TrainConfig`: everything one training run needs, and the only place it is checked.

The field names are the flags of `apps/train.py`; a run's `flags.txt` lists
them as a flagfile (`TrainConfig.to_flagfile`, `from_flag_strings`). The flags
check only their own syntax and ask the check functions here for the rest.
Nothing in this module imports TensorFlow.
"""

import dataclasses
import json
import math
import os
import pathlib
import zipfile

from keras_tna import initializers
from keras_tna import methods
from keras_tna import network_names
from keras_tna.data import registry as data_registry
from keras_tna.data import source as data_source

RUN_CONTROL_FIELDS = (
    "output_dir",
    "data_dir",
    "overwrite",
    "verbose",
    "strategy",
    "tpu_address",
    "peer_timeout_s",
    "jit_compile",
    "deterministic",
)
METHODS = methods.METHODS

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "cosine_epoch", "constant")
PAD_FILLS = data_source.PAD_FILLS
# The names of `keras_tna.distribute.available()` (tested equal there); kept
# here so that checking a configuration needs no TensorFlow.
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
JIT_COMPILE = ("auto", "true", "false")

# What `smoke=True` shrinks a configuration to.
SMOKE_EPOCHS = 2
SMOKE_STEPS = 2
SMOKE_BATCH_SIZE = 16

# Fields added after runs were first written: a flags.txt without them was
# trained with this value (not None, as for other fields a flags.txt leaves out).
FIELDS_ADDED_LATER = {"twin_reinit": "all"}

# Seed offset of the twin network: base and twin start from different weights.
TWIN_SEED_OFFSET = 1000


@dataclasses.dataclass
class TrainConfig:
    """Everything one training run needs, as plain values.

    The field names are the flags of `apps/train.py`; `flags.txt` in a run's
    output directory lists them as a flagfile.

    Args:
        dataset: str. A `keras_tna.data.load` name (`"digits"`, `"cifar10"`,
            `"folder:<path>"`, `"tinyimagenet:<path>"`, ...).
        data_dir: str or None. Where datasets are stored (TFDS data dir).
        image_size: int or None. Resize images to `image_size` squared.
        augment: bool. Random crops/flips on the training set.
        model: str. A `keras_tna.models.available()` name (the base).
        twin_model: str or None. The twin's network name; None: as `model`.
        twin_reinit: str. How the twin starts (paper sec. 4.2): `"all"` (an
            independently initialised network, the paper's twin), `"none"` (an
            exact copy of the base) or comma-separated layer names of the
            base, e.g. `"block_1"`: a copy of the base with those layers drawn
            afresh (`keras_tna.make_twin`). Anything but `"all"` needs the
            twin to be the base's network.
        network_args: str or None. More keyword arguments of the network's
            builder, as a JSON object: e.g. a `"keras_hub:ResNetBackbone"`'s
            constructor arguments (`'{"block_type": "basic_block", ...}'`) or
            `'{"width": 2}'`. Given to the base, and to the twin when it is
            the same network.
        kernel_initializer: str or None. Initializer of the conv and dense
            kernels of both networks: a Keras initializer name, or
            `"torch_default"` (PyTorch's default for conv and linear layers);
            None: each network's own default (`"he_normal"` for the networks
            written here).
        method: str. One of `METHODS`: `"single"`, `"tna"`, `"dml"`,
            `"frozen_twin"`, `"ensemble"`.
        alpha: float. Matching weight of `"tna"` and `"frozen_twin"`.
        dml_alpha: float. Weight of the KL terms of `"dml"` (1 is DML).
        temperature: float. Softmax temperature of `"dml"`.
        matching_start_epoch: int. First epoch (0-based) with matching.
        twin_checkpoint: str or None. `.keras` file of the frozen twin.
        epochs: int. Training epochs.
        batch_size: int. Global batch size.
        optimizer: str. `"sgd"` (momentum), `"adam"` or `"adamw"`.
        learning_rate: float. Peak learning rate.
        momentum: float. SGD momentum.
        nesterov: bool. Nesterov momentum for SGD.
        weight_decay: float. L2 penalty on the kernels (gradient
            `weight_decay * w`) for SGD and Adam; decoupled weight decay of
            AdamW.
        schedule: str. `"cosine"` (decay to 0 over all steps, updated every
            step), `"cosine_epoch"` (the same curve held constant within each
            epoch, as PyTorch's `CosineAnnealingLR` stepped once per epoch in
            the paper's code) or `"constant"`.
        warmup_epochs: float. Linear warm-up from 0 to the peak rate.
        pad_fill: str. What the pad-and-crop augmentation pads with: `"zero"`
            (black raw pixels) or `"mean"` (the mean colour: padding after
            normalisation, as the paper's code does).
        seed: int. Seeds data order, augmentation and the base's weights (the
            twin uses `seed + 1000`).
        data_seed: int or None. Seeds data order and augmentation alone
            (the weights keep `seed`); None: `seed`. For experiments that
            separate the two sources of randomness.
        output_dir: str. The run's directory.
        strategy: str. A `keras_tna.distribute.available()` name:
            `"default"`, `"mirrored"`, `"multi_worker"` or `"tpu"`.
        tpu_address: str or None. TPU name or address for `strategy="tpu"`.
        peer_timeout_s: float. `strategy="multi_worker"`: seconds to wait
            at start-up for the other workers of `TF_CONFIG` (saying every
            30 s which ones do not answer yet) before giving up.
        mixed_precision: str. `"float32"`, `"mixed_float16"` or
            `"mixed_bfloat16"`.
        jit_compile: str. `"auto"`, `"true"` or `"false"` (XLA).
        validation_freq: int. Evaluate on the test set every this many epochs.
        deterministic: bool. Enable TensorFlow op determinism.
        smoke: bool. Shrink the run to 2 epochs of 2 steps of batch 16 and 2
            evaluation steps (for tests); the dataset is not changed.
        overwrite: bool. Delete a previous run in `output_dir` first.
        verbose: int. Keras verbosity: 0 silent, 1 progress bars, 2 one line
            per epoch.

    Examples:

    >>> config = TrainConfig(dataset="digits", image_size=32, method="tna",
    ...                      epochs=1, output_dir="/tmp/run")
    >>> config.effective_alpha()
    0.005
    """

    dataset: str = "digits"
    data_dir: str = None
    image_size: int = None
    augment: bool = True
    model: str = "convnet"
    twin_model: str = None
    twin_reinit: str = "all"
    network_args: str = None
    kernel_initializer: str = None
    method: str = "tna"
    alpha: float = 5e-3
    dml_alpha: float = 1.0
    temperature: float = 1.0
    matching_start_epoch: int = 0
    twin_checkpoint: str = None
    epochs: int = 200
    batch_size: int = 256
    optimizer: str = "sgd"
    learning_rate: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    pad_fill: str = "zero"
    seed: int = 0
    data_seed: int = None
    output_dir: str = "runs/default"
    strategy: str = "default"
    tpu_address: str = None
    peer_timeout_s: float = 900.0
    mixed_precision: str = "float32"
    jit_compile: str = "auto"
    validation_freq: int = 1
    deterministic: bool = False
    smoke: bool = False
    overwrite: bool = False
    verbose: int = 1

    def __post_init__(self):
        for field in (
            "data_dir", "twin_model", "twin_checkpoint", "tpu_address",
            "kernel_initializer", "network_args",
        ):
            if getattr(self, field) == "":
                setattr(self, field, None)
        if self.image_size == 0:
            self.image_size = None

    # ---------------------------------------------------------------- checks
    def validate(self):
        """Checks every value; raises ValueError/TypeError/FileNotFoundError.

        Network and dataset names are checked against their registries, and a
        frozen twin's checkpoint must exist. Nothing is built or loaded.
        """
        check_choice("method", self.method, sorted(METHODS))
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("pad_fill", self.pad_fill, PAD_FILLS)
        check_choice("strategy", self.strategy, STRATEGIES)
        check_choice("mixed_precision", self.mixed_precision, PRECISIONS)
        check_choice("jit_compile", str(self.jit_compile).lower(), JIT_COMPILE)
        for field in ("epochs", "batch_size", "validation_freq"):
            check_number(field, getattr(self, field), minimum=1, integer=True)
        check_number("seed", self.seed, minimum=0, integer=True)
        if self.data_seed is not None:
            check_number("data_seed", self.data_seed, minimum=0, integer=True)
        check_number("matching_start_epoch", self.matching_start_epoch, 0, True)
        if self.image_size is not None:
            check_number("image_size", self.image_size, minimum=1, integer=True)
        for field in ("alpha", "dml_alpha", "weight_decay", "momentum", "warmup_epochs"):
            check_number(field, getattr(self, field), minimum=0)
        for field in ("learning_rate", "temperature", "peer_timeout_s"):
            check_number(field, getattr(self, field), minimum=0, exclusive=True)
        check_schedule_warmup(self.schedule, self.warmup_epochs)
        check_warmup(self.warmup_epochs, self.epochs)
        _check_verbose(self.verbose)
        check_network(self.model, "model")
        if self.twin_model is not None:
            check_network(self.twin_model, "twin_model")
        check_twin_reinit(self.twin_reinit, self.model, self.twin_model)
        data_registry.resolve(self.dataset)
        if self.kernel_initializer is not None:
            initializers.kernel_initializer(self.kernel_initializer)
        parse_network_args(self.network_args)
        if METHODS[self.method].freeze_twin:
            check_twin_checkpoint(self.twin_checkpoint)
        check_output_dir(self.output_dir)
        return self

    # ---------------------------------------------------------------- values
    @property
    def method_spec(self):
        """The run's `keras_tna.methods.Method`."""
        return methods.get(self.method)

    def effective_data_seed(self):
        """The seed of data order and augmentation: `data_seed`, else `seed`."""
        return self.seed if self.data_seed is None else self.data_seed

    def network_kwargs(self):
        """`network_args` as a dict of keyword arguments ({} when unset)."""
        return parse_network_args(self.network_args)

    def twin_reinit_layers(self):
        """`twin_reinit` as `keras_tna.make_twin` takes it: "all" or a list of names."""
        return parse_twin_reinit(self.twin_reinit)

    def effective_alpha(self):
        """The matching weight the run uses (None for `"single"`)."""
        return self.method_spec.effective_alpha(self)

    def identity(self):
        """The settings that define what a run computes, as flag strings.

        Leaves out where/how it runs (`RUN_CONTROL_FIELDS`) and the settings
        the method does not read, so e.g. a `"single"` run is the same run
        whatever `alpha` says.
        """
        used = set(METHODS[self.method].uses)
        return {
            name: value
            for name, value in self.flag_values().items()
            if name not in RUN_CONTROL_FIELDS
            and (name not in methods.METHOD_ONLY_FIELDS or name in used)
        }

    def flag_values(self):
        """All fields as the strings `apps/train.py` flags would hold (None left out)."""
        values = {}
        for field in dataclasses.fields(self):
            if field.name == "overwrite":
                continue
            value = getattr(self, field.name)
            if value is not None:
                values[field.name] = _flag_string(value)
        return values

    def to_flagfile(self):
        """The configuration as flagfile text (`--name=value` lines)."""
        lines = [
            "# Resolved flags of a keras_tna training run; rerun with",
            "#   python apps/train.py --flagfile=<this file>",
        ]
        for name, value in self.flag_values().items():
            lines.append(f"--{name}={value}")
        return "\n".join(lines) + "\n"

    def replace(self, **changes):
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_flag_strings(cls, stored):
        """The configuration a run's flags.txt describes (fields left out were None).

        Args:
            stored: dict of str to str, e.g. from
                `keras_tna.runs.layout.read_flagfile`. Unknown names are
                ignored.

        Returns:
            `TrainConfig` (not validated).

        Examples:

        >>> TrainConfig.from_flag_strings({"epochs": "3", "smoke": "true"}).epochs
        3
        """
        kwargs = config_kwargs_from_flags(stored)
        for field in dataclasses.fields(cls):
            if field.name in FIELDS_ADDED_LATER and field.name not in stored:
                kwargs[field.name] = FIELDS_ADDED_LATER[field.name]
            elif field.name not in stored and field.name != "overwrite":
                if field.default is not None:
                    kwargs[field.name] = None  # left out of flags.txt: it was None
        return cls(**kwargs)


# ---------------------------------------------------------------------- checks
def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"Unknown {name} {value!r}: use one of {list(choices)}. "
            f"Received: {name}={value!r}"
        )


def check_number(name, value, minimum=None, integer=False, exclusive=False):
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise TypeError(f"`{name}` must be {kind}. Received: {name}={value!r}")
    if not math.isfinite(value) or (
        minimum is not None
        and (value <= minimum if exclusive else value < minimum)
    ):
        bound = f"> {minimum}" if exclusive else f">= {minimum}"
        raise ValueError(f"`{name}` must be {bound}. Received: {name}={value!r}")


def _check_verbose(verbose):
    if verbose not in (0, 1, 2):
        raise ValueError(
            "`verbose` must be 0 (silent), 1 (progress bars) or 2 (one line per "
            f"epoch). Received: verbose={verbose!r}"
        )


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


def check_methods(names):
    """Raises ValueError unless every name is a training method.

    Args:
        names: list of str.
    """
    methods.check_names(names)


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


def _flag_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def config_kwargs_from_flags(stored):
    """`TrainConfig` keyword arguments from flag strings (`read_flagfile`).

    Names that are not `TrainConfig` fields (`methods`, `seeds`, ...) are
    left out; values are converted to each field's type.

    Args:
        stored: dict of str to str, e.g. `{"epochs": "20", "augment": "true"}`.

    Returns:
        dict of typed values.

    Examples:

    >>> config_kwargs_from_flags({"epochs": "20", "augment": "false", "seeds": "0,1"})
    {'epochs': 20, 'augment': False}
    """
    types = {f.name: f.type for f in dataclasses.fields(TrainConfig)}
    kwargs = {}
    for name, value in stored.items():
        kind = types.get(name)
        if kind is None:
            continue
        if kind is bool:
            kwargs[name] = value == "true"
        elif kind in (int, float):
            kwargs[name] = kind(value)
        else:
            kwargs[name] = value
    return kwargs
