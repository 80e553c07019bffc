"""The flags of `apps/train.py`, defined once, with help text and validators.

Every field of `keras_tna.training.TrainConfig` is a flag of the same name and
default; four list flags turn a run into a sweep. Choices come from the
registries (`keras_tna.training.METHODS`, `keras_tna.models.available()`,
the dataset registry), so a new method, network or dataset needs no change
here. Library code never reads these flags: `config_from_flags` and
`sweep_from_flags` turn them into plain values.
"""

import dataclasses

from absl import flags

from keras_tna import methods
from keras_tna import network_names
from keras_tna import training
from keras_tna.data import registry as data_registry
from keras_tna.runs import config as run_config

FLAGS = flags.FLAGS
_DEFAULTS = training.TrainConfig()

# ---------------------------------------------------------------- what to train
flags.DEFINE_string(
    "dataset",
    _DEFAULTS.dataset,
    "Dataset name: " + ", ".join(data_registry.available()) + ".",
)
flags.DEFINE_string(
    "data_dir", None, "Where datasets are stored (the TFDS data dir)."
)
flags.DEFINE_integer(
    "image_size",
    None,
    "Resize images to image_size x image_size (e.g. 32 for the ConvNet on "
    "8x8 digits); default: the dataset's own size.",
    lower_bound=1,
)
flags.DEFINE_boolean(
    "augment", _DEFAULTS.augment, "Random crop (and flip) on the training set."
)
flags.DEFINE_string(
    "model",
    _DEFAULTS.model,
    "The base network: " + ", ".join(network_names.available()) + ".",
)
flags.DEFINE_string(
    "twin_model", None, "The twin's network (Table 8); default: as --model."
)
flags.DEFINE_string(
    "network_args",
    None,
    "More keyword arguments of the network, as a JSON object, e.g. the "
    "constructor arguments of a keras_hub:<BackboneClass> "
    "('{\"block_type\": \"basic_block\", ...}'); also given to the twin when "
    "it is the same network.",
)
flags.DEFINE_string(
    "twin_reinit",
    _DEFAULTS.twin_reinit,
    "How the twin starts (paper sec. 4.2, progressive re-initialisation): "
    "'all' (independently initialised, the paper's twin), 'none' (an exact "
    "copy of the base) or comma-separated layer names of the base (a copy of "
    "the base with those layers re-initialised), e.g. 'block_1'.",
)
flags.DEFINE_string(
    "kernel_initializer",
    None,
    "Initializer of the conv and dense kernels of both networks: a Keras "
    "initializer name or "
    + ", ".join(sorted(training.KERNEL_INITIALIZERS))
    + " (PyTorch's default); default: each network's own (he_normal).",
)
flags.DEFINE_enum(
    "method",
    _DEFAULTS.method,
    sorted(training.METHODS),
    "; ".join(f"{m.name}: {m.description}" for m in training.METHODS.values())
    + ".",
)
flags.DEFINE_float(
    "alpha",
    _DEFAULTS.alpha,
    "Weight of the logit matching loss of tna and frozen_twin (the paper: "
    f"5e-3; non-convergence from {methods.DIVERGENCE_ALPHA:g}).",
    lower_bound=0.0,
)
flags.DEFINE_float(
    "dml_alpha",
    _DEFAULTS.dml_alpha,
    "Weight of the mutual KL terms of dml (1 is DML as published).",
    lower_bound=0.0,
)
flags.DEFINE_float(
    "temperature", _DEFAULTS.temperature, "Softmax temperature of dml.",
    lower_bound=1e-6,
)
flags.DEFINE_integer(
    "matching_start_epoch",
    _DEFAULTS.matching_start_epoch,
    "First epoch (0-based) with the matching loss: late matching (Fig. 5).",
    lower_bound=0,
)
flags.DEFINE_string(
    "twin_checkpoint",
    None,
    "method=frozen_twin: the pretrained twin, a .keras file (a run's "
    "base.keras).",
)
# ---------------------------------------------------------------- how to train
flags.DEFINE_integer("epochs", _DEFAULTS.epochs, "Training epochs.", lower_bound=1)
flags.DEFINE_integer(
    "batch_size", _DEFAULTS.batch_size, "Global batch size.", lower_bound=1
)
flags.DEFINE_enum(
    "optimizer",
    _DEFAULTS.optimizer,
    training.OPTIMIZERS,
    "sgd (with momentum; the paper's CNNs), adam (ViT) or adamw.",
)
flags.DEFINE_float(
    "learning_rate", _DEFAULTS.learning_rate, "Peak learning rate.",
    lower_bound=1e-12,
)
flags.DEFINE_float(
    "momentum", _DEFAULTS.momentum, "SGD momentum.", lower_bound=0.0
)
flags.DEFINE_boolean("nesterov", _DEFAULTS.nesterov, "Nesterov momentum (SGD).")
flags.DEFINE_float(
    "weight_decay",
    _DEFAULTS.weight_decay,
    "Weight decay: an L2 penalty on the kernels (gradient weight_decay * w, "
    "as torch's SGD) for sgd and adam; decoupled for adamw.",
    lower_bound=0.0,
)
flags.DEFINE_enum(
    "schedule",
    _DEFAULTS.schedule,
    training.SCHEDULES,
    "Learning-rate schedule: cosine decay to 0 updated every step; "
    "cosine_epoch, the same curve updated once per epoch (PyTorch's "
    "CosineAnnealingLR as the paper's code steps it); or constant.",
)
flags.DEFINE_float(
    "warmup_epochs",
    _DEFAULTS.warmup_epochs,
    "Linear learning-rate warm-up from 0, in epochs.",
    lower_bound=0.0,
)
flags.DEFINE_enum(
    "pad_fill",
    _DEFAULTS.pad_fill,
    training.PAD_FILLS,
    "What the random pad-and-crop pads with: zero (black raw pixels) or mean "
    "(the mean colour: normalise, then pad with 0, as the paper's code).",
)
flags.DEFINE_integer(
    "seed",
    _DEFAULTS.seed,
    "Seed of data order, augmentation and the base's weights (twin: seed + "
    f"{training.TWIN_SEED_OFFSET}).",
    lower_bound=0,
)
flags.DEFINE_integer(
    "data_seed",
    None,
    "Seed of data order and augmentation alone (the weights keep --seed); "
    "default: --seed.",
    lower_bound=0,
)
flags.DEFINE_integer(
    "validation_freq",
    _DEFAULTS.validation_freq,
    "Evaluate on the test set every this many epochs.",
    lower_bound=1,
)
# ---------------------------------------------------------------- where to train
flags.DEFINE_string(
    "output_dir",
    _DEFAULTS.output_dir,
    "The run's directory (flags.txt, results.json, history.csv, tensorboard/, "
    "checkpoints/, base.keras, twin.keras); a sweep puts its runs in "
    "<output_dir>/<method>/seed_<seed>.",
)
flags.DEFINE_boolean(
    "overwrite", False, "Delete a previous run in --output_dir and start again."
)
flags.DEFINE_enum(
    "strategy",
    _DEFAULTS.strategy,
    training.STRATEGIES,
    "tf.distribute strategy: default (one device), mirrored (all local GPUs), "
    "multi_worker (TF_CONFIG), tpu (--tpu_address).",
)
flags.DEFINE_string(
    "tpu_address",
    None,
    "--strategy=tpu: local (a TPU VM; the default), a Cloud TPU name or "
    "grpc://host:port.",
)
flags.DEFINE_float(
    "peer_timeout_s",
    _DEFAULTS.peer_timeout_s,
    "--strategy=multi_worker: seconds to wait at start-up for the other "
    "workers of TF_CONFIG (saying every 30 s which ones do not answer yet).",
)
flags.DEFINE_enum(
    "mixed_precision",
    _DEFAULTS.mixed_precision,
    training.PRECISIONS,
    "Keras dtype policy: float32, mixed_float16 (GPU) or mixed_bfloat16 "
    "(TPU, recent CPUs). Logits and losses stay float32.",
)
flags.DEFINE_enum(
    "jit_compile",
    _DEFAULTS.jit_compile,
    training.JIT_COMPILE,
    "XLA compilation of the train step; auto leaves it to Keras (off on CPU).",
)
flags.DEFINE_boolean(
    "deterministic",
    _DEFAULTS.deterministic,
    "Enable TensorFlow op determinism (reproducible, slower on GPU).",
)
flags.DEFINE_boolean(
    "smoke",
    False,
    f"Shrink any config to {training.SMOKE_EPOCHS} epochs of "
    f"{training.SMOKE_STEPS} steps of batch <= {training.SMOKE_BATCH_SIZE} "
    "(for tests). The dataset is not changed: combine with e.g. "
    "--dataset=digits --image_size=32.",
)
flags.DEFINE_integer(
    "verbose",
    _DEFAULTS.verbose,
    "0: silent, 1: progress bars, 2: one line per epoch (logs to files).",
    lower_bound=0,
    upper_bound=2,
)
# ---------------------------------------------------------------- sweeps
flags.DEFINE_list(
    "methods",
    None,
    "Sweep: train each of these methods (overrides --method), e.g. single,tna.",
)
flags.DEFINE_list(
    "seeds", None, "Sweep: train with each of these seeds (overrides --seed)."
)
flags.DEFINE_list(
    "alphas",
    None,
    "Sweep: each of these alphas for tna and frozen_twin (Table 7).",
)
flags.DEFINE_list(
    "matching_start_epochs",
    None,
    "Sweep: each of these late-matching starts for the twin methods (Fig. 5).",
)


# ---------------------------------------------------------------- validators
# The checks themselves are `keras_tna.runs.config`'s (the one place a run's
# settings are checked); the validators only report them at parse time.
def _check_registry(check):
    def validator(value):
        if value is None:
            return True
        try:
            check(value)
        except (ValueError, TypeError) as error:
            raise flags.ValidationError(str(error)) from None
        return True

    return validator


def _parse_list(kind, what):
    def check(values):
        for value in values:
            try:
                number = kind(value)
            except ValueError:
                raise ValueError(
                    f"{what} must be a comma-separated list of {kind.__name__}s. "
                    f"Received: {value!r}"
                ) from None
            if number < 0:
                raise ValueError(f"{what} must be >= 0. Received: {value!r}")

    return check


flags.register_validator("dataset", _check_registry(data_registry.resolve))
flags.register_validator("model", _check_registry(run_config.check_network))
flags.register_validator(
    "twin_model",
    _check_registry(lambda name: run_config.check_network(name, "twin_model")),
)
flags.register_validator(
    "network_args", _check_registry(run_config.parse_network_args)
)
flags.register_validator(
    "kernel_initializer", _check_registry(training.kernel_initializer)
)
flags.register_validator(
    "peer_timeout_s",
    _check_registry(
        lambda v: run_config.check_number("peer_timeout_s", v, 0, exclusive=True)
    ),
)
flags.register_validator("methods", _check_registry(run_config.check_methods))
flags.register_validator("seeds", _check_registry(_parse_list(int, "--seeds")))
flags.register_validator("alphas", _check_registry(_parse_list(float, "--alphas")))
flags.register_validator(
    "matching_start_epochs",
    _check_registry(_parse_list(int, "--matching_start_epochs")),
)


def _check_flags(names, check):
    """Registers `check(values)` (raising ValueError) as a multi-flag validator."""

    def validator(values):
        try:
            check(values)
        except (ValueError, TypeError) as error:
            raise flags.ValidationError(str(error)) from None
        return True

    flags.register_multi_flags_validator(names, validator)


def _check_twin_checkpoint_given(values):
    # Whether the file exists is checked when the run starts (a sweep may
    # train the twin first); here only that a frozen twin names one.
    names = values["methods"] or [values["method"]]
    if any(methods.get(n).freeze_twin for n in names if n in methods.METHODS):
        if not values["twin_checkpoint"]:
            run_config.check_twin_checkpoint(None)


_check_flags(
    ["warmup_epochs", "epochs"],
    lambda v: run_config.check_warmup(v["warmup_epochs"], v["epochs"]),
)
_check_flags(["method", "methods", "twin_checkpoint"], _check_twin_checkpoint_given)
_check_flags(
    ["twin_reinit", "model", "twin_model"],
    lambda v: run_config.check_twin_reinit(
        v["twin_reinit"], v["model"], v["twin_model"]
    ),
)


# ---------------------------------------------------------------- to plain values
def config_from_flags(flag_values=FLAGS):
    """The `TrainConfig` the parsed flags describe.

    Args:
        flag_values: absl `FlagValues`, parsed.

    Returns:
        `keras_tna.training.TrainConfig`.
    """
    return training.TrainConfig(
        **{
            field.name: flag_values[field.name].value
            for field in dataclasses.fields(training.TrainConfig)
        }
    )


def sweep_from_flags(flag_values=FLAGS):
    """The sweep the list flags ask for, or None for a single run.

    Returns:
        None, or a dict with `methods`, `seeds`, `alphas` and
        `matching_start_epochs` (the keyword arguments of
        `keras_tna.training.sweep`).
    """
    lists = [
        flag_values[name].value
        for name in ("methods", "seeds", "alphas", "matching_start_epochs")
    ]
    if not any(lists):
        return None
    methods, seeds, alphas, starts = lists
    return {
        "methods": methods or [flag_values.method],
        "seeds": [int(s) for s in seeds] if seeds else [flag_values.seed],
        "alphas": [float(a) for a in alphas] if alphas else None,
        "matching_start_epochs": [int(s) for s in starts] if starts else None,
    }
