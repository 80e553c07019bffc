"""The settings of a training run, each declared once: type, bounds, default, help.

`SETTINGS` is the one declaration per setting from which the rest derives:
the flags of `apps/train.py` (`keras_tna.cli.train_flags` defines one flag per
setting, with its help and `Setting.check` as validator, and checks each value
of the sweep lists `--alphas`, `--seeds`, `--matching_start_epochs` by the
same rule), the fields of `keras_tna.training.TrainConfig` (made from
`SETTINGS`, checked by the same `Setting.check`) and `TwinModel`'s checks of
`alpha`, `temperature`, `matching_start_epoch` and `batch_size`
(`keras_tna.checks.arguments`). The same bad value therefore gives one
message whichever way it comes in: a flag, a `TrainConfig` or a `TwinModel`
argument.

What needs a registry (network and dataset names, initializers, the frozen
twin's file) or several settings at once (warm-up against epochs) is checked
by `keras_tna.runs.config`. This module imports neither Keras nor TensorFlow.

Examples:

>>> SETTINGS["alpha"].check(5e-3)
>>> SETTINGS["alpha"].paper
0.005
>>> SETTINGS["temperature"].rule()
'a finite number > 0'
"""

import dataclasses
import math
import numbers
from typing import Optional

from keras_tna import methods
from keras_tna.data import source as data_source

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "cosine_epoch", "constant")
# The names of `keras_tna.distribute.available()` (tested equal there); kept
# here so that checking a configuration needs no TensorFlow.
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
JIT_COMPILE = ("auto", "true", "false")

# What `smoke=True` shrinks a run to.
SMOKE_EPOCHS = 2
SMOKE_STEPS = 2
SMOKE_BATCH_SIZE = 16

# Seed offset of the twin network: base and twin start from different weights.
TWIN_SEED_OFFSET = 1000


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting of a training run, and its one rule.

    Args:
        name: str. The flag and `TrainConfig` field name.
        kind: type. `int`, `float`, `bool` or `str`.
        default: The default (also the flag's).
        help: str. One or two sentences (flag help, `TrainConfig` docs).
        group: str. The heading in `apps/train.py --help`: `"what"`,
            `"how"` or `"where"` to train.
        minimum: number or None. The smallest value allowed.
        exclusive: bool. `minimum` itself is not allowed (`> minimum`).
        maximum: number or None. The largest value allowed.
        choices: tuple of str or None. The values allowed.
        optional: bool. None is allowed (and means "not set").
        paper: The value of the paper's main experiments (Table 9, sec. 4),
            or None where the paper does not set it.
        note: str. Said after the rule in error messages, e.g. what a
            value means.

    Examples:

    >>> rate = Setting("rate", float, 0.1, "A rate.", exclusive=True, minimum=0)
    >>> rate.message(0.0)
    '`rate` must be a finite number > 0. Received: rate=0.0'
    """

    name: str
    kind: type
    default: object
    help: str
    group: str = "how"
    minimum: Optional[float] = None
    exclusive: bool = False
    maximum: Optional[float] = None
    choices: Optional[tuple] = None
    optional: bool = False
    paper: object = None
    note: str = ""

    def rule(self):
        """What the setting must be, as the error messages say it."""
        if self.choices is not None:
            return f"one of {list(self.choices)}"
        if self.kind is bool:
            return "True or False"
        if self.kind is str:
            return "a string"
        text = "an integer" if self.kind is int else "a finite number"
        if self.minimum is not None and self.maximum is not None:
            return f"{text} from {self.minimum} to {self.maximum}"
        if self.minimum is not None:
            return f"{text} {'>' if self.exclusive else '>='} {self.minimum}"
        return text

    def message(self, value):
        """The one-line error for a bad `value` of this setting."""
        notes = [self.note] if self.note else []
        if self.paper is not None and self.kind in (int, float):
            notes.append(f"the paper uses {self.paper:g}")
        said = f" ({'; '.join(notes)})" if notes else ""
        return (
            f"`{self.name}` must be {self.rule()}{said}. "
            f"Received: {self.name}={value!r}"
        )

    def check(self, value):
        """Raises TypeError (wrong type) or ValueError (out of bounds) for a bad value.

        Every error is `message(value)`. Numpy scalars count as numbers;
        booleans never do.

        Args:
            value: The value to check.
        """
        if value is None and self.optional:
            return
        if not self._right_type(value):
            raise TypeError(self.message(value))
        if self.choices is not None and value not in self.choices:
            raise ValueError(self.message(value))
        if self.kind in (int, float) and not self._in_bounds(value):
            raise ValueError(self.message(value))

    def _right_type(self, value):
        if self.kind is bool:
            return isinstance(value, bool) or type(value).__name__ == "bool_"
        if self.kind is str:
            return isinstance(value, str)
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            return False
        wanted = numbers.Integral if self.kind is int else numbers.Real
        return isinstance(value, wanted)

    def _in_bounds(self, value):
        if not math.isfinite(value):
            return False
        if self.minimum is not None and (
            value <= self.minimum if self.exclusive else value < self.minimum
        ):
            return False
        return self.maximum is None or value <= self.maximum

    def doc_type(self):
        """The type as a docstring's `Args:` says it (`"int or None"`)."""
        return self.kind.__name__ + (" or None" if self.optional else "")


def _unset_text(name, group, help):
    """A string setting that is None (not set) by default."""
    return Setting(name, str, None, help, group=group, optional=True)


def _number(name, kind, default, help, minimum=0, **kwargs):
    return Setting(name, kind, default, help, minimum=minimum, **kwargs)


_METHOD_HELP = "; ".join(
    f"{m.name}: {m.description}" for m in methods.METHODS.values()
)

_DECLARED = (
    # -------------------------------------------------------- what to train
    Setting(
        "dataset", str, "digits",
        "A keras_tna.data.load name (digits, cifar10, folder:<path>, "
        "tinyimagenet:<path>, ...).",
        group="what",
    ),
    _unset_text(
        "data_dir", "what",
        "Where datasets are stored (the TFDS data dir).",
    ),
    _number(
        "image_size", int, None,
        "Resize images to image_size x image_size (e.g. 32 for the ConvNet on "
        "8x8 digits); unset or 0: the dataset's own size.",
        group="what", optional=True,
    ),
    Setting("augment", bool, True, "Random crop (and flip) on the training set.",
            group="what"),
    Setting(
        "model", str, "convnet",
        "The base network: a keras_tna.models.available() name, "
        "keras_hub:<BackboneClass> or keras_cv:<BackboneClass>.",
        group="what",
    ),
    _unset_text(
        "twin_model", "what",
        "The twin's network (Table 8); default: as --model.",
    ),
    Setting(
        "twin_reinit", str, "all",
        "How the twin starts (paper sec. 4.2, progressive re-initialisation): "
        "'all' (independently initialised, the paper's twin), 'none' (an exact "
        "copy of the base) or comma-separated layer names of the base (a copy "
        "of the base with those layers re-initialised), e.g. 'block_1'. "
        "Anything but 'all' needs the twin to be the base's network.",
        group="what", paper="all",
    ),
    _unset_text(
        "network_args", "what",
        "More keyword arguments of the network, as a JSON object, e.g. the "
        "constructor arguments of a keras_hub:<BackboneClass> "
        "('{\"block_type\": \"basic_block\", ...}') or '{\"width\": 2}'; also "
        "given to the twin when it is the same network.",
    ),
    _unset_text(
        "kernel_initializer", "what",
        "Initializer of the conv and dense kernels of both networks: a Keras "
        "initializer name or torch_default (PyTorch's default); default: each "
        "network's own (he_normal).",
    ),
    Setting("method", str, "tna", _METHOD_HELP + ".", group="what",
            choices=tuple(sorted(methods.METHODS)), paper="tna"),
    _number(
        "alpha", float, 5e-3,
        "Weight of the logit matching loss of tna and frozen_twin "
        f"(non-convergence from {methods.DIVERGENCE_ALPHA:g}).",
        group="what", paper=5e-3, note="0 trains two independent networks",
    ),
    _number("dml_alpha", float, 1.0,
            "Weight of the mutual KL terms of dml (1 is DML as published).",
            group="what", paper=1.0),
    _number("temperature", float, 1.0, "Softmax temperature of dml.",
            group="what", exclusive=True, paper=1.0),
    _number(
        "matching_start_epoch", int, 0,
        "First epoch (0-based) with the matching loss: late matching (Fig. 5).",
        group="what", paper=0,
    ),
    _unset_text(
        "twin_checkpoint", "what",
        "method=frozen_twin: the pretrained twin, a .keras file (a run's "
        "base.keras).",
    ),
    # -------------------------------------------------------- how to train
    _number("epochs", int, 200, "Training epochs.", minimum=1, paper=200),
    _number("batch_size", int, 256, "Global batch size.", minimum=1, paper=256),
    Setting("optimizer", str, "sgd",
            "sgd (with momentum; the paper's CNNs), adam (ViT) or adamw.",
            choices=OPTIMIZERS, paper="sgd"),
    _number("learning_rate", float, 0.1, "Peak learning rate.", exclusive=True,
            paper=0.1),
    _number("momentum", float, 0.9, "SGD momentum."),
    Setting("nesterov", bool, False, "Nesterov momentum (SGD)."),
    _number(
        "weight_decay", float, 5e-4,
        "Weight decay: an L2 penalty on the kernels (gradient weight_decay * w, "
        "as torch's SGD) for sgd and adam; decoupled for adamw.",
    ),
    Setting(
        "schedule", str, "cosine",
        "Learning-rate schedule: cosine decay to 0 updated every step; "
        "cosine_epoch, the same curve updated once per epoch (PyTorch's "
        "CosineAnnealingLR as the paper's code steps it); or constant.",
        choices=SCHEDULES, paper="cosine",
    ),
    _number("warmup_epochs", float, 0.0,
            "Linear learning-rate warm-up from 0, in epochs.", paper=0.0),
    Setting(
        "pad_fill", str, "zero",
        "What the random pad-and-crop pads with: zero (black raw pixels) or "
        "mean (the mean colour: normalise, then pad with 0, as the paper's code).",
        choices=data_source.PAD_FILLS,
    ),
    _number(
        "seed", int, 0,
        "Seed of data order, augmentation and the base's weights (twin: seed + "
        f"{TWIN_SEED_OFFSET}).",
    ),
    _number(
        "data_seed", int, None,
        "Seed of data order and augmentation alone (the weights keep --seed); "
        "default: --seed.",
        optional=True,
    ),
    # -------------------------------------------------------- where to train
    Setting(
        "output_dir", str, "runs/default",
        "The run's directory (flags.txt, results.json, history.csv, "
        "tensorboard/, checkpoints/, base.keras, twin.keras); a sweep puts its "
        "runs in <output_dir>/<method>/seed_<seed>.",
        group="where",
    ),
    Setting(
        "strategy", str, "default",
        "tf.distribute strategy: default (one device), mirrored (all local "
        "GPUs), multi_worker (TF_CONFIG), tpu (--tpu_address).",
        group="where", choices=STRATEGIES,
    ),
    _unset_text(
        "tpu_address", "where",
        "--strategy=tpu: local (a TPU VM; the default), a Cloud TPU name or "
        "grpc://host:port.",
    ),
    _number(
        "peer_timeout_s", float, 900.0,
        "--strategy=multi_worker: seconds to wait at start-up for the other "
        "workers of TF_CONFIG (saying every 30 s which ones do not answer yet).",
        group="where", exclusive=True,
    ),
    Setting(
        "mixed_precision", str, "float32",
        "Keras dtype policy: float32, mixed_float16 (GPU) or mixed_bfloat16 "
        "(TPU, recent CPUs). Logits and losses stay float32.",
        group="where", choices=PRECISIONS,
    ),
    Setting(
        "jit_compile", str, "auto",
        "XLA compilation of the train step; auto leaves it to Keras (off on CPU).",
        group="where", choices=JIT_COMPILE,
    ),
    _number("validation_freq", int, 1,
            "Evaluate on the test set every this many epochs.", minimum=1),
    Setting(
        "deterministic", bool, False,
        "Enable TensorFlow op determinism (reproducible, slower on GPU).",
        group="where",
    ),
    Setting(
        "smoke", bool, False,
        f"Shrink any config to {SMOKE_EPOCHS} epochs of {SMOKE_STEPS} steps of "
        f"batch <= {SMOKE_BATCH_SIZE} (for tests). The dataset is not changed: "
        "combine with e.g. --dataset=digits --image_size=32.",
        group="where",
    ),
    Setting("overwrite", bool, False,
            "Delete a previous run in --output_dir and start again.", group="where"),
    _number(
        "verbose", int, 1,
        "0: silent, 1: progress bars, 2: one line per epoch (logs to files).",
        group="where", maximum=2,
        note="0 silent, 1 progress bars, 2 one line per epoch",
    ),
)

SETTINGS = {setting.name: setting for setting in _DECLARED}

# The settings that `TwinModel` takes too (as constructor or `fit` arguments).
TWIN_MODEL_SETTINGS = ("alpha", "temperature", "matching_start_epoch", "batch_size")


def check(name, value):
    """Checks `value` against the rule of setting `name` (`Setting.check`).

    Args:
        name: str. A `SETTINGS` name.
        value: The value to check.

    Examples:

    >>> check("epochs", 0)
    Traceback (most recent call last):
    ...
    ValueError: `epochs` must be an integer >= 1 (the paper uses 200). Received: epochs=0
    """
    SETTINGS[name].check(value)
