"""Training runs as a library: `TrainConfig`, `train` and `sweep`.

`apps/train.py` turns its flags into a `TrainConfig` and calls `train` (one run)
or `sweep` (methods x seeds x alphas x matching start epochs); notebooks call
the same functions. A run owns one output directory:

    D/flags.txt       the resolved flags, a flagfile for apps/train.py
    D/results.json    accuracies, losses, parameters, wall time, versions, status
    D/history.csv     per-epoch metrics (train and validation)
    D/tensorboard/    TensorBoard logs
    D/checkpoints/    resume state: weights, both optimizers, epoch counter
    D/base.keras      the trained base network (D/twin.keras: the twin)

Running the same configuration again resumes an interrupted run from its last
finished epoch and returns a finished run's results without retraining. A
directory holding a run with other settings is refused (`overwrite=True`
deletes it first).
"""

import csv
import dataclasses
import json
import math
import os
import pathlib
import platform
import shutil
import time

import keras
import numpy as np
import tensorflow as tf

from keras_tna import distribute
from keras_tna.data import source as data_source

# Settings that say where or how verbosely a run executes, not what it
# computes: they may differ when a run is resumed or repeated.
RUN_CONTROL_FIELDS = (
    "output_dir",
    "data_dir",
    "overwrite",
    "verbose",
    "strategy",
    "tpu_address",
    "jit_compile",
    "deterministic",
)


@dataclasses.dataclass(frozen=True)
class Method:
    """A training method of the paper, as `train` runs it.

    Args:
        name: str. The method's name (`TrainConfig.method`).
        description: str. One line for `--help` and reports.
        twin: bool. Whether a twin network is trained (or loaded) beside the base.
        matching: str or None. The `TwinModel` matching loss.
        freeze_twin: bool. The twin is a pretrained network loaded from
            `TrainConfig.twin_checkpoint` and never updated.
        alpha_field: str or None. The `TrainConfig` field holding this
            method's matching weight; None with a twin means alpha = 0.
        uses: tuple of str. The `TrainConfig` fields that only this kind of
            method reads (a run's identity ignores the others).
    """

    name: str
    description: str
    twin: bool = False
    matching: str = None
    freeze_twin: bool = False
    alpha_field: str = None
    uses: tuple = ()


METHODS = {
    m.name: m
    for m in (
        Method("single", "one network, cross-entropy only (the baseline)"),
        Method(
            "tna",
            "Twin Network Augmentation: base + twin, logit L2 matching",
            twin=True,
            matching="tna",
            alpha_field="alpha",
            uses=("twin_model", "matching_start_epoch", "alpha"),
        ),
        Method(
            "dml",
            "Deep Mutual Learning: base + twin, mutual KL on probabilities",
            twin=True,
            matching="dml",
            alpha_field="dml_alpha",
            uses=("twin_model", "matching_start_epoch", "temperature", "dml_alpha"),
        ),
        Method(
            "frozen_twin",
            "a pretrained frozen twin loaded from --twin_checkpoint (Fig. 4)",
            twin=True,
            matching="tna",
            freeze_twin=True,
            alpha_field="alpha",
            uses=("twin_checkpoint", "matching_start_epoch", "alpha"),
        ),
        Method(
            "ensemble",
            "two independent networks (alpha = 0), ensembled (Table 3)",
            twin=True,
            matching="tna",
            uses=("twin_model",),
        ),
    )
}
_METHOD_ONLY_FIELDS = sorted({f for m in METHODS.values() for f in m.uses})

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "cosine_epoch", "constant")
PAD_FILLS = data_source.PAD_FILLS
STRATEGIES = tuple(distribute.available())
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
JIT_COMPILE = ("auto", "true", "false")

# What `smoke=True` shrinks a configuration to.
SMOKE_EPOCHS = 2
SMOKE_STEPS = 2
SMOKE_BATCH_SIZE = 16

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
            "kernel_initializer",
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
        from keras_tna import models as tna_models
        from keras_tna.data import registry as data_registry

        _check_choice("method", self.method, sorted(METHODS))
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("pad_fill", self.pad_fill, PAD_FILLS)
        _check_choice("strategy", self.strategy, STRATEGIES)
        _check_choice("mixed_precision", self.mixed_precision, PRECISIONS)
        _check_choice("jit_compile", str(self.jit_compile).lower(), JIT_COMPILE)
        for field in ("epochs", "batch_size", "validation_freq"):
            _check_number(field, getattr(self, field), minimum=1, integer=True)
        _check_number("seed", self.seed, minimum=0, integer=True)
        if self.data_seed is not None:
            _check_number("data_seed", self.data_seed, minimum=0, integer=True)
        _check_number("matching_start_epoch", self.matching_start_epoch, 0, True)
        if self.image_size is not None:
            _check_number("image_size", self.image_size, minimum=1, integer=True)
        for field in ("alpha", "dml_alpha", "weight_decay", "momentum", "warmup_epochs"):
            _check_number(field, getattr(self, field), minimum=0)
        for field in ("learning_rate", "temperature"):
            _check_number(field, getattr(self, field), minimum=0, exclusive=True)
        if self.schedule == "cosine_epoch" and self.warmup_epochs:
            raise ValueError(
                "`schedule='cosine_epoch'` has no warm-up (as the paper's code): "
                "set warmup_epochs=0 or use schedule='cosine'. Received: "
                f"warmup_epochs={self.warmup_epochs}"
            )
        if self.warmup_epochs >= self.epochs:
            raise ValueError(
                "`warmup_epochs` must be smaller than `epochs`. Received: "
                f"warmup_epochs={self.warmup_epochs}, epochs={self.epochs}"
            )
        _check_verbose(self.verbose)
        known = tna_models.available()
        for field in ("model", "twin_model"):
            name = getattr(self, field)
            if name is None and field == "twin_model":
                continue
            if not isinstance(name, str) or not (
                name in known or name.startswith("keras_cv:")
            ):
                raise ValueError(
                    f"Unknown network {field}={name!r}. Known networks: {known}. "
                    f"Received: {field}={name!r}"
                )
        data_registry.resolve(self.dataset)
        if self.kernel_initializer is not None:
            kernel_initializer(self.kernel_initializer)
        if METHODS[self.method].freeze_twin:
            check_twin_checkpoint(self.twin_checkpoint)
        return self

    # ---------------------------------------------------------------- values
    @property
    def method_spec(self):
        return METHODS[self.method]

    def effective_data_seed(self):
        """The seed of data order and augmentation: `data_seed`, else `seed`."""
        return self.seed if self.data_seed is None else self.data_seed

    def effective_alpha(self):
        """The matching weight the run uses (None for `"single"`)."""
        method = METHODS[self.method]
        if not method.twin:
            return None
        if method.alpha_field is None:
            return 0.0
        return float(getattr(self, method.alpha_field))

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
            and (name not in _METHOD_ONLY_FIELDS or name in used)
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


# ---------------------------------------------------------------------- checks
def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"Unknown {name} {value!r}: use one of {list(choices)}. "
            f"Received: {name}={value!r}"
        )


def _check_number(name, value, minimum=None, integer=False, exclusive=False):
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


def check_twin_checkpoint(path):
    """Raises unless `path` names an existing `.keras` file (the frozen twin).

    Args:
        path: str or None. The twin checkpoint.
    """
    if not path:
        raise ValueError(
            "method='frozen_twin' needs the pretrained twin: pass "
            "--twin_checkpoint=<run dir>/base.keras of a finished run. "
            "Received: twin_checkpoint=None"
        )
    if not str(path).endswith(".keras"):
        raise ValueError(
            "The twin checkpoint must be a .keras file written by "
            "apps/train.py (<run dir>/base.keras). "
            f"Received: twin_checkpoint={path!r}"
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"The frozen twin checkpoint {path!r} does not exist; train the twin "
            "first (its run writes <output_dir>/base.keras) or fix "
            f"--twin_checkpoint. Received: twin_checkpoint={path!r}"
        )


# Initializers by name besides keras' own: PyTorch's default for nn.Conv2d and
# nn.Linear kernels, kaiming_uniform(a=sqrt(5)): U(-b, b), b = 1 / sqrt(fan_in).
KERNEL_INITIALIZERS = {
    "torch_default": {
        "class_name": "VarianceScaling",
        "config": {"scale": 1.0 / 3.0, "mode": "fan_in", "distribution": "uniform"},
    },
}


def kernel_initializer(name):
    """The kernel initializer for a name: keras' own, or `KERNEL_INITIALIZERS`.

    Args:
        name: str. E.g. `"he_normal"`, `"glorot_uniform"`, `"torch_default"`.

    Returns:
        A `keras.initializers.Initializer`.

    Examples:

    >>> kernel_initializer("torch_default").scale
    0.3333333333333333
    """
    spec = KERNEL_INITIALIZERS.get(name, name)
    try:
        initializer = keras.initializers.get(spec) if isinstance(name, str) else None
    except (ValueError, TypeError):
        initializer = None
    if initializer is None:
        raise ValueError(
            f"Unknown kernel initializer {name!r}: use a Keras initializer name "
            f"(e.g. 'he_normal', 'glorot_uniform') or one of "
            f"{sorted(KERNEL_INITIALIZERS)}. Received: kernel_initializer={name!r}"
        )
    return initializer


def _flag_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


# ---------------------------------------------------------------------- pieces
def learning_rate_schedule(
    learning_rate, steps_per_epoch, epochs, schedule="cosine", warmup_epochs=0.0
):
    """The learning rate of a run: cosine or constant, after a linear warm-up.

    The cosine schedule decays from `learning_rate` to 0 over the training
    steps that follow a linear warm-up from 0 over `warmup_epochs`.
    `"cosine_epoch"` is PyTorch's `CosineAnnealingLR(T_max=epochs)` stepped
    once per epoch, as in the paper's code: epoch `e` trains at
    `learning_rate * (1 + cos(pi * e / epochs)) / 2` (no warm-up).

    Args:
        learning_rate: float. Peak learning rate.
        steps_per_epoch: int. Optimizer steps per epoch.
        epochs: int. Training epochs.
        schedule: str. `"cosine"`, `"cosine_epoch"` or `"constant"`.
        warmup_epochs: float. Length of the linear warm-up.

    Returns:
        A `keras.optimizers.schedules.LearningRateSchedule`, or a float.

    Examples:

    >>> rate = learning_rate_schedule(0.1, steps_per_epoch=10, epochs=2)
    >>> round(float(rate(10)), 4)  # half-way: cos(pi / 2)
    0.05
    >>> rate = learning_rate_schedule(0.1, 10, 2, schedule="cosine_epoch")
    >>> [round(float(rate(step)), 4) for step in (0, 9, 10, 19)]
    [0.1, 0.1, 0.05, 0.05]
    """
    _check_choice("schedule", schedule, SCHEDULES)
    total = int(steps_per_epoch) * int(epochs)
    warmup = int(round(warmup_epochs * steps_per_epoch))
    if schedule == "cosine_epoch":
        if warmup:
            raise ValueError(
                'schedule="cosine_epoch" has no warm-up (the paper\'s code has '
                'none): use schedule="cosine" or warmup_epochs=0. Received: '
                f"warmup_epochs={warmup_epochs}"
            )
        values = [
            learning_rate * 0.5 * (1.0 + math.cos(math.pi * e / epochs))
            for e in range(int(epochs))
        ]
        if len(values) == 1:
            return learning_rate
        # Step k trains in epoch k // steps_per_epoch: the rate changes after
        # the last step of each epoch.
        boundaries = [int(steps_per_epoch) * e - 1 for e in range(1, int(epochs))]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    if schedule == "cosine":
        if warmup:
            return keras.optimizers.schedules.CosineDecay(
                0.0,
                decay_steps=max(1, total - warmup),
                warmup_target=learning_rate,
                warmup_steps=warmup,
            )
        return keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=max(1, total)
        )
    if warmup:
        return keras.optimizers.schedules.PolynomialDecay(
            0.0, warmup, end_learning_rate=learning_rate, power=1.0
        )
    return learning_rate


def make_optimizer(
    name,
    learning_rate,
    steps_per_epoch,
    epochs,
    schedule="cosine",
    warmup_epochs=0.0,
    momentum=0.9,
    nesterov=False,
    weight_decay=0.0,
):
    """Returns the optimizer of a run, with its `learning_rate_schedule`.

    Args:
        name: str. `"sgd"`, `"adam"` or `"adamw"`.
        learning_rate: float. Peak learning rate.
        steps_per_epoch: int. Optimizer steps per epoch.
        epochs: int. Training epochs.
        schedule: str. `"cosine"`, `"cosine_epoch"` or `"constant"`.
        warmup_epochs: float. Length of the linear warm-up.
        momentum: float. SGD momentum.
        nesterov: bool. Nesterov momentum (SGD).
        weight_decay: float. Decoupled weight decay, used by `"adamw"` only
            (SGD and Adam get theirs as an L2 penalty from the network).

    Returns:
        A `keras.optimizers.Optimizer`.

    Examples:

    >>> opt = make_optimizer("sgd", 0.1, steps_per_epoch=10, epochs=2)
    >>> type(opt).__name__
    'SGD'
    """
    _check_choice("optimizer", name, OPTIMIZERS)
    rate = learning_rate_schedule(
        learning_rate, steps_per_epoch, epochs, schedule, warmup_epochs
    )
    if name == "sgd":
        return keras.optimizers.SGD(rate, momentum=momentum, nesterov=nesterov)
    if name == "adam":
        return keras.optimizers.Adam(rate)
    return keras.optimizers.AdamW(rate, weight_decay=weight_decay)


class _PrecisionPolicy:
    """Sets keras' global dtype policy inside a `with` block."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.previous = keras.config.dtype_policy().name
        keras.config.set_dtype_policy(self.name)

    def __exit__(self, *exc):
        keras.config.set_dtype_policy(self.previous)


class _BackupKeepingLastGood(distribute.BackupAndRestore):
    """`BackupAndRestore` that never saves a diverged state and keeps its backup.

    Its backup (weights, both optimizers, epoch counter) is the run's last
    good checkpoint; the finished epochs and the accumulated training time
    are stored beside it in `progress.json`. Only the chief writes (see
    `keras_tna.distribute.BackupAndRestore`).
    """

    def __init__(self, backup_dir, strategy, guard, clock):
        super().__init__(
            backup_dir, strategy, save_freq="epoch", delete_checkpoint=False
        )
        self.guard = guard
        self.clock = clock
        self.progress_path = os.path.join(backup_dir, "progress.json")
        self.previous_wall_time = 0.0

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if os.path.isfile(self.progress_path):
            with open(self.progress_path) as f:
                progress = json.load(f)
            self.previous_wall_time = progress["wall_time_s"]
            self._current_epoch = progress["epoch"]
            print(
                f"Resuming from the checkpoint after epoch {progress['epoch']} "
                f"in {self.backup_dir}",
                flush=True,
            )

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if self.guard.diverged_at is not None or (
            loss is not None and not math.isfinite(float(loss))
        ):
            return
        super().on_epoch_end(epoch, logs)
        if self.is_chief:
            with open(self.progress_path, "w") as f:
                json.dump({"epoch": epoch + 1, "wall_time_s": self.wall_time()}, f)

    def wall_time(self):
        return self.previous_wall_time + (time.time() - self.clock)

    @property
    def weights_path(self):
        return self._weights_path


class _EpochExtras(keras.callbacks.Callback):
    """Adds the learning rate and the epoch's duration to the epoch logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        optimizer = self.model.optimizer
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = optimizer.inner_optimizer
        logs["learning_rate"] = float(
            keras.ops.convert_to_numpy(optimizer.learning_rate)
        )
        logs["epoch_time_s"] = time.time() - self._start


# ---------------------------------------------------------------------- run dir
def read_flagfile(path):
    """Reads `--name=value` lines of a flagfile into a dict of strings."""
    values = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("--") or "=" not in line:
                continue
            name, value = line[2:].split("=", 1)
            values[name] = value
    return values


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


def _identity_from_flags(stored):
    config = TrainConfig()
    kwargs = config_kwargs_from_flags(stored)
    for field in dataclasses.fields(TrainConfig):
        if field.name not in stored and field.name != "overwrite":
            if getattr(config, field.name) is not None:
                kwargs[field.name] = None  # left out of flags.txt: it was None
    return TrainConfig(**kwargs).identity()


def check_run_dir(config):
    """Says what `train` will do with `config.output_dir`.

    Returns:
        `"new"` (nothing there yet), `"resume"` (an unfinished run with the
        same settings), or `"done"` (a finished run with the same settings,
        completed or diverged).

    Raises:
        ValueError: the directory holds a run with other settings, or
            something that is not a run (and `overwrite` is off).
    """
    out = pathlib.Path(config.output_dir)
    flags_path = out / "flags.txt"
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return "new"
    if not out.is_dir():
        raise ValueError(
            f"--output_dir={str(out)!r} is a file, not a directory. Pass "
            "another --output_dir."
        )
    if not flags_path.is_file():
        raise ValueError(
            f"--output_dir={str(out)!r} is not empty and holds no keras_tna "
            "run (no flags.txt); refusing to write into it. Pass another "
            "--output_dir."
        )
    stored = _identity_from_flags(read_flagfile(flags_path))
    current = config.identity()
    differing = sorted(
        name
        for name in set(stored) | set(current)
        if stored.get(name) != current.get(name)
    )
    if differing:
        details = ", ".join(
            f"{name} (there: {stored.get(name)}, here: {current.get(name)})"
            for name in differing
        )
        raise ValueError(
            f"--output_dir={str(out)!r} holds a run with different flags: "
            f"{details}. Pass another --output_dir, or --overwrite to delete "
            "that run and start again."
        )
    results_path = out / "results.json"
    if results_path.is_file():
        return "done"
    return "resume"


def _run_dir_status(config):
    """`check_run_dir`, except that `overwrite` makes a previous run "new"."""
    out = pathlib.Path(config.output_dir)
    if config.overwrite and (out / "flags.txt").is_file():
        return "new"
    return check_run_dir(config)


def _start_run_dir(config, status):
    """Deletes an overwritten run, creates the directory and its flags.txt."""
    out = pathlib.Path(config.output_dir)
    if status != "new":
        return
    if config.overwrite and (out / "flags.txt").is_file():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "flags.txt").write_text(config.to_flagfile())


# ---------------------------------------------------------------------- train
def versions():
    """Versions of Python, TensorFlow, Keras, numpy and keras_tna."""
    import keras_tna

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "keras_tna": keras_tna.__version__,
    }


def _build_twin(config, num_classes, input_shape, network_kwargs):
    from keras_tna import models as tna_models

    if config.method_spec.freeze_twin:
        return load_frozen_twin(config.twin_checkpoint, num_classes, input_shape)
    return tna_models.build(
        config.twin_model or config.model,
        num_classes,
        input_shape,
        seed=config.seed + TWIN_SEED_OFFSET,
        **network_kwargs,
    )


def load_frozen_twin(path, num_classes, input_shape):
    """Loads a pretrained twin and checks it fits the dataset.

    Args:
        path: str. A `.keras` network (a run's `base.keras`).
        num_classes: int. The dataset's number of classes.
        input_shape: tuple. The dataset's image shape.

    Returns:
        The loaded `keras.Model`.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the network's logits or inputs have another shape.
    """
    check_twin_checkpoint(path)
    twin = keras.models.load_model(path, compile=False)
    logits = tuple(twin.outputs[0].shape[1:])
    inputs = tuple(twin.inputs[0].shape[1:])
    if logits != (num_classes,) or inputs != tuple(input_shape):
        raise ValueError(
            f"The frozen twin {path!r} takes inputs {inputs} and outputs "
            f"logits {logits}, but the dataset has images {tuple(input_shape)} "
            f"and {num_classes} classes; pass the checkpoint of a network "
            f"trained on this dataset. Received: twin_checkpoint={path!r}"
        )
    return twin


def _count_params(model):
    return int(sum(np.prod(w.shape) for w in model.weights))


def _num_steps(dataset, num_examples, batch_size):
    steps = int(dataset.cardinality())
    if steps < 0:  # unknown or infinite
        steps = math.ceil(num_examples / batch_size)
    if steps == 0 or steps == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            f"The training set gives {steps} batches of {batch_size}; lower "
            f"--batch_size. Received: batch_size={batch_size}, "
            f"{num_examples} training examples"
        )
    return steps


def _device_line(strategy):
    gpus = tf.config.list_logical_devices("GPU")
    tpus = tf.config.list_logical_devices("TPU")
    if tpus:
        device = f"{len(tpus)} TPU core(s)"
    elif gpus:
        device = f"{len(gpus)} GPU(s)"
    else:
        device = f"CPU ({os.cpu_count()} cores)"
    return (
        f"{device}, strategy {type(strategy).__name__} "
        f"({strategy.num_replicas_in_sync} replica(s))"
    )


def train(config, callbacks=None):
    """Runs (or resumes, or reuses) one training run; returns its results.

    Args:
        config: `TrainConfig`. The run.
        callbacks: list of `keras.callbacks.Callback` or None. Extra callbacks
            for `fit` (run after the run's own ones).

    Returns:
        dict: the contents of `results.json` (see `docs/DESIGN.md`), with
        `status` `"completed"` or `"diverged"` (then `message` says why and
        the accuracies are None; the checkpoint of the last good epoch is
        kept in `checkpoints/`).

    Raises:
        ValueError, TypeError, FileNotFoundError: bad settings, before any
            training starts.

    Examples:

    >>> results = train(TrainConfig(dataset="digits", image_size=32,
    ...     method="tna", smoke=True, output_dir="/tmp/tna_run"))  # doctest: +SKIP
    >>> results["status"]  # doctest: +SKIP
    'completed'
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(
            f"`config` must be a TrainConfig. Received: {type(config).__name__}"
        )
    config.validate()
    out = pathlib.Path(config.output_dir)
    status = _run_dir_status(config)
    if status == "done":
        results = json.loads((out / "results.json").read_text())
        print(
            f"{out} already holds this run ({results['status']}); not "
            "retraining. Pass --overwrite to train it again.",
            flush=True,
        )
        return results
    clock = time.time()
    strategy = distribute.make_strategy(config.strategy, config.tpu_address)
    # The TF global seed keys the data pipeline's random ops; the networks'
    # weights come from `seed` alone (seed_scope), set again once data exists.
    keras.utils.set_random_seed(config.effective_data_seed())
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    plan = _Plan(config)
    distribute.check_global_batch(plan.batch_size, strategy)
    jit_compile = distribute.check_jit_compile(config.jit_compile, strategy)
    _start_run_dir(config, status)
    with _PrecisionPolicy(config.mixed_precision):
        bundle, train_data, test_data, steps = _load_data(config, plan, strategy)
        keras.utils.set_random_seed(config.seed)
        with strategy.scope():
            model, base, twin = _build_and_compile(
                config, plan, bundle, steps, jit_compile
            )
        results = _describe(config, plan, bundle, base, twin, steps)
        _print_header(config, plan, bundle, base, twin, results, strategy)
        with distribute.worker_dir(out, strategy) as run_dir:
            results = _fit_and_evaluate(
                config, plan, model, base, twin, train_data, test_data, strategy,
                pathlib.Path(run_dir), clock, results, callbacks,
            )
    if results["status"] == "completed":
        print(_summary_line(results), flush=True)
    return results


class _Plan:
    """What a configuration comes to once `smoke` has shrunk it."""

    def __init__(self, config):
        smoke = config.smoke
        self.epochs = min(config.epochs, SMOKE_EPOCHS) if smoke else config.epochs
        self.batch_size = (
            min(config.batch_size, SMOKE_BATCH_SIZE) if smoke else config.batch_size
        )
        self.matching_start_epoch = (
            min(config.matching_start_epoch, self.epochs - 1)
            if smoke
            else config.matching_start_epoch
        )


def _load_data(config, plan, strategy):
    from keras_tna import data as tna_data

    bundle = tna_data.load(
        config.dataset,
        batch_size=plan.batch_size,
        data_dir=config.data_dir,
        seed=distribute.worker_seed(config.effective_data_seed(), strategy, "data"),
        augment=config.augment,
        image_size=config.image_size,
        pad_fill=config.pad_fill,
    )
    if bundle.train is None:
        raise ValueError(
            f"Dataset {config.dataset!r} has no training split; train on its "
            f"clean counterpart. Received: dataset={config.dataset!r}"
        )
    train_data, test_data = bundle.train, bundle.test
    if config.smoke:
        train_data = train_data.take(SMOKE_STEPS)
        test_data = test_data.take(SMOKE_STEPS)
    steps = _num_steps(train_data, bundle.num_train, plan.batch_size)
    train_data = distribute.shard(train_data, "data")
    test_data = distribute.shard(test_data, "data")
    return bundle, train_data, test_data, steps


def _build_and_compile(config, plan, bundle, steps_per_epoch, jit_compile):
    """The model `fit` trains (a TwinModel, or the base for "single")."""
    from keras_tna import TwinModel
    from keras_tna import models as tna_models

    method = config.method_spec
    network_kwargs = {
        "weight_decay": 0.0 if config.optimizer == "adamw" else config.weight_decay
    }
    if config.kernel_initializer is not None:
        network_kwargs["kernel_initializer"] = kernel_initializer(
            config.kernel_initializer
        )
    base = tna_models.build(
        config.model,
        bundle.num_classes,
        bundle.input_shape,
        seed=config.seed,
        **network_kwargs,
    )
    twin = (
        _build_twin(config, bundle.num_classes, bundle.input_shape, network_kwargs)
        if method.twin
        else None
    )
    optimizer = make_optimizer(
        config.optimizer,
        config.learning_rate,
        steps_per_epoch,
        plan.epochs,
        schedule=config.schedule,
        warmup_epochs=config.warmup_epochs,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
    )
    if twin is None:
        base.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[
                keras.metrics.SparseCategoricalAccuracy(name="base_accuracy"),
                keras.metrics.SparseCategoricalCrossentropy(
                    from_logits=True, name="base_loss"
                ),
            ],
            jit_compile=jit_compile,
        )
        base.optimizer.build(base.trainable_variables)
        return base, base, None
    model = TwinModel(
        base,
        twin,
        alpha=config.effective_alpha(),
        matching=method.matching,
        temperature=config.temperature,
        freeze_twin=method.freeze_twin,
        matching_start_epoch=plan.matching_start_epoch,
    )
    model.compile(optimizer=optimizer, jit_compile=jit_compile)
    model.build_optimizers()
    return model, base, twin


def _describe(config, plan, bundle, base, twin, steps_per_epoch):
    """The results.json entries known before training."""
    method = config.method_spec
    return {
        "method": config.method,
        "model": config.model,
        "twin_model": (config.twin_model or config.model) if method.twin else None,
        "twin_checkpoint": config.twin_checkpoint if method.freeze_twin else None,
        "dataset": config.dataset,
        "seed": config.seed,
        "alpha": config.effective_alpha(),
        "matching_start_epoch": plan.matching_start_epoch if method.twin else None,
        "learning_rate": config.learning_rate,
        "batch_size": plan.batch_size,
        "epochs": plan.epochs,
        "steps_per_epoch": steps_per_epoch,
        "num_train": bundle.num_train,
        "num_test": bundle.num_test,
        "num_classes": bundle.num_classes,
        "smoke": config.smoke,
        "params_base": _count_params(base),
        "params_twin": _count_params(twin) if twin is not None else None,
    }


def _fit_and_evaluate(
    config, plan, model, base, twin, train_data, test_data, strategy, run_dir,
    clock, results, callbacks,
):
    """Trains, then evaluates and saves (or keeps the last good epoch)."""
    from keras_tna.callbacks import DivergenceGuard

    out = pathlib.Path(config.output_dir)
    guard = DivergenceGuard()
    backup = _BackupKeepingLastGood(str(out / "checkpoints"), strategy, guard, clock)
    history_path = run_dir / "history.csv"
    completed = _completed_epochs(out)
    if completed == 0 and history_path.exists():
        history_path.unlink()
    fit_callbacks = [
        guard,
        backup,
        _EpochExtras(),
        keras.callbacks.CSVLogger(str(history_path), append=True),
        keras.callbacks.TensorBoard(
            str(run_dir / "tensorboard"), write_graph=False, profile_batch=0
        ),
    ] + list(callbacks or [])
    fit_data, fit_steps = _epoch_stream(train_data, completed)
    with distribute.stop_on_peer_failure(strategy, str(out / "checkpoints")):
        model.fit(
            fit_data,
            steps_per_epoch=fit_steps,
            validation_data=test_data,
            epochs=plan.epochs,
            validation_freq=config.validation_freq,
            shuffle=False,  # the pipeline shuffles, with the run's seed
            callbacks=fit_callbacks,
            verbose=config.verbose,
        )
    _dedupe_history(history_path)
    if guard.diverged_at is not None:
        last_good = 0
        if os.path.isfile(backup.weights_path):
            model.load_weights(backup.weights_path)
            last_good = _completed_epochs(out)
        results.update(
            status="diverged",
            message=guard.message,
            last_good_epoch=last_good,
            base_accuracy=None,
            twin_accuracy=None,
            ensemble_accuracy=None,
            base_loss=None,
        )
        print(
            f"{guard.message} Kept the checkpoint of the last good epoch "
            f"({last_good}) in {out / 'checkpoints'}.",
            flush=True,
        )
    else:
        scores = model.evaluate(test_data, verbose=0, return_dict=True)
        results.update(
            status="completed",
            base_accuracy=float(scores["base_accuracy"]),
            twin_accuracy=_maybe(scores, "twin_accuracy", twin),
            ensemble_accuracy=_maybe(scores, "ensemble_accuracy", twin),
            base_loss=float(scores["base_loss"]),
            twin_loss=_maybe(scores, "twin_loss", twin),
            matching_loss=_maybe(scores, "matching_loss", twin),
        )
        base.save(run_dir / "base.keras")
        if twin is not None:
            twin.save(run_dir / "twin.keras")
    results.update(
        wall_time_s=round(backup.wall_time(), 2),
        versions=versions(),
        flags=config.flag_values(),
    )
    (run_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def _completed_epochs(out):
    """Epochs finished by an earlier, interrupted session of this run."""
    path = out / "checkpoints" / "progress.json"
    if not path.is_file():
        return 0
    return int(json.loads(path.read_text())["epoch"])


def _epoch_stream(dataset, completed_epochs):
    """The training data as one stream of epochs, positioned after a resume.

    The pipeline draws a new shuffle order and new augmentation seeds from
    its seeded generators each time an iterator over it is created. `fit`
    gets `dataset.repeat()` with exact `steps_per_epoch`, so epoch `e` is the
    `e`-th pass whatever keras does with iterators; creating (and dropping)
    one iterator per epoch finished by an interrupted session makes a resumed
    run see the same data as an uninterrupted one.

    Returns:
        `(dataset, steps_per_epoch)` for `fit`; the dataset unchanged and
        None when its number of batches is unknown (resumed runs then see
        other shuffle orders than uninterrupted ones).
    """
    steps = int(dataset.cardinality())
    if steps <= 0:
        return dataset, None
    for _ in range(completed_epochs):
        iter(dataset)
    return dataset.repeat(), steps


def _maybe(scores, key, twin):
    return float(scores[key]) if twin is not None else None


def _summary_line(results):
    parts = [f"base accuracy {results['base_accuracy']:.4f}"]
    if results["twin_accuracy"] is not None:
        parts.append(f"twin {results['twin_accuracy']:.4f}")
        parts.append(f"ensemble {results['ensemble_accuracy']:.4f}")
    return (
        f"Done: {results['method']} seed {results['seed']}: "
        + ", ".join(parts)
        + f" ({results['wall_time_s']:.0f} s)"
    )


def _print_header(config, plan, bundle, base, twin, results, strategy):
    method = config.method_spec
    alpha = config.effective_alpha()
    lines = [
        f"keras_tna: {config.method} ({method.description})"
        + (f", alpha={alpha:g}" if alpha is not None else "")
        + (
            f", matching from epoch {plan.matching_start_epoch}"
            if method.twin and plan.matching_start_epoch
            else ""
        )
        + f", seed {config.seed} -> {config.output_dir}",
        f"  base:      {base.name} ({results['params_base']:,} parameters)",
    ]
    if twin is not None:
        origin = (
            f", frozen, from {config.twin_checkpoint}" if method.freeze_twin else ""
        )
        lines.append(
            f"  twin:      {twin.name} ({results['params_twin']:,} parameters{origin})"
        )
    lines += [
        f"  dataset:   {bundle.name}: {bundle.num_train:,} train / "
        f"{bundle.num_test:,} test images {tuple(bundle.input_shape)}, "
        f"{bundle.num_classes} classes",
        f"  training:  {plan.epochs} epochs x {results['steps_per_epoch']} steps of "
        f"batch {plan.batch_size}, {config.optimizer} lr {config.learning_rate:g} "
        f"({config.schedule}"
        + (f", {config.warmup_epochs:g} warm-up epochs" if config.warmup_epochs else "")
        + f"), weight decay {config.weight_decay:g}"
        + (" [smoke]" if config.smoke else ""),
        f"  device:    {_device_line(strategy)}, precision "
        f"{config.mixed_precision}, jit_compile {config.jit_compile}",
    ]
    print("\n".join(lines), flush=True)


def _dedupe_history(path):
    """Keeps the last row per epoch (a resumed run may repeat an epoch)."""
    if not path.is_file():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    by_epoch = {}
    for row in rows:
        by_epoch[int(row["epoch"])] = row
    fields = list(rows[0].keys())
    for row in rows:
        for key in row:
            if key not in fields:
                fields.append(key)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, restval="")
        writer.writeheader()
        for epoch in sorted(by_epoch):
            writer.writerow(by_epoch[epoch])


# ---------------------------------------------------------------------- sweep
def run_name(method, alpha=None, matching_start_epoch=None):
    """The sub-directory name of one variant of a sweep.

    Examples:

    >>> run_name("tna", alpha=0.05, matching_start_epoch=50)
    'tna_alpha0.05_start50'
    """
    name = method
    if alpha is not None:
        name += f"_alpha{alpha:g}"
    if matching_start_epoch is not None:
        name += f"_start{matching_start_epoch}"
    return name


def sweep_configs(config, methods, seeds, alphas=None, matching_start_epochs=None):
    """Expands a configuration into the runs of a sweep.

    Every method runs with every seed; `alphas` and `matching_start_epochs`
    apply to the methods that read them (a `"single"` run is never repeated
    per alpha). Run `r` of seed `s` goes to `<output_dir>/<r>/seed_<s>`, with
    `r` from `run_name`. The runs are ordered seed by seed.

    Args:
        config: `TrainConfig`. The shared settings.
        methods: list of str. Method names.
        seeds: list of int. Seeds.
        alphas: list of float or None. Values of `alpha` (TNA, frozen twin).
        matching_start_epochs: list of int or None. Late-matching starts.

    Returns:
        list of `TrainConfig`, one per run.
    """
    if not methods or not seeds:
        raise ValueError(
            "A sweep needs at least one method and one seed. Received: "
            f"methods={methods!r}, seeds={seeds!r}"
        )
    for method in methods:
        _check_choice("method", method, sorted(METHODS))
    variants = []
    for method in methods:
        spec = METHODS[method]
        method_alphas = alphas if alphas and "alpha" in spec.uses else [None]
        starts = (
            matching_start_epochs
            if matching_start_epochs and "matching_start_epoch" in spec.uses
            else [None]
        )
        variants += [(method, a, k) for a in method_alphas for k in starts]
    configs = []
    # Seeds outermost: a sweep cut short still holds complete comparisons.
    for seed in seeds:
        for method, alpha, start in variants:
            changes = {
                "method": method,
                "seed": int(seed),
                "output_dir": os.path.join(
                    config.output_dir, run_name(method, alpha, start), f"seed_{seed}"
                ),
            }
            if alpha is not None:
                changes["alpha"] = float(alpha)
            if start is not None:
                changes["matching_start_epoch"] = int(start)
            configs.append(config.replace(**changes))
    return configs


def sweep(config, methods, seeds, alphas=None, matching_start_epochs=None):
    """Trains every run of a sweep (see `sweep_configs`), one after another.

    Finished runs are reused, interrupted ones resumed. Every configuration is
    validated, and every output directory checked, before the first run
    starts.

    Args:
        config: `TrainConfig`. The shared settings.
        methods: list of str. Method names.
        seeds: list of int. Seeds.
        alphas: list of float or None. Values of `alpha`.
        matching_start_epochs: list of int or None. Late-matching starts.

    Returns:
        list of dict: each run's results.

    Examples:

    ```python
    results = sweep(TrainConfig(dataset="digits", image_size=32, epochs=10,
                                output_dir="runs/quickstart"),
                    methods=["single", "tna"], seeds=[0, 1, 2])
    ```
    """
    configs = sweep_configs(config, methods, seeds, alphas, matching_start_epochs)
    for run_config in configs:
        run_config.validate()
        if not run_config.overwrite:
            check_run_dir(run_config)
    results = []
    for index, run_config in enumerate(configs):
        print(
            f"\n=== run {index + 1}/{len(configs)}: {run_config.output_dir}",
            flush=True,
        )
        results.append(train(run_config))
        keras.backend.clear_session()
    return results
