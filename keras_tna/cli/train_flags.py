"""The flags of `apps/train.py`: one per `keras_tna.settings.SETTINGS` entry, plus sweeps.

Each setting (a `TrainConfig` field) is a flag of the same name, type,
default and help, validated by the setting's own rule (`Setting.check`), so
`--alpha=inf`, `TrainConfig(alpha=inf)` and `TwinModel(alpha=inf)` say the
same thing. What needs a registry or several flags is checked by
`keras_tna.runs.validation`, as `TrainConfig.validate` does. Four list flags
turn a run into a sweep. Library code never reads these flags:
`config_from_flags` and `sweep_from_flags` turn them into plain values.
"""

import dataclasses
import re

from absl import flags

from keras_tna import initializers
from keras_tna import methods
from keras_tna import network_names
from keras_tna import settings
from keras_tna.data import registry as data_registry
from keras_tna.runs import validation
from keras_tna.runs.config import TrainConfig

FLAGS = flags.FLAGS

# Help that names what the registries hold now (the settings cannot import them).
_MORE_HELP = {
    "dataset": lambda: " Known: " + ", ".join(data_registry.available()) + ".",
    "model": lambda: " Known: " + ", ".join(network_names.available()) + ".",
    "kernel_initializer": lambda: (
        " Named here: " + ", ".join(sorted(initializers.KERNEL_INITIALIZERS)) + "."
    ),
}
_DEFINE = {
    int: flags.DEFINE_integer,
    float: flags.DEFINE_float,
    bool: flags.DEFINE_boolean,
    str: flags.DEFINE_string,
}


def _help(setting):
    text = setting.help + _MORE_HELP.get(setting.name, lambda: "")()
    if setting.choices is not None:
        text += f" One of: {', '.join(setting.choices)}."
    if setting.paper is not None:
        text += f" The paper: {setting.paper}."
    return text


for _setting in settings.SETTINGS.values():
    _DEFINE[_setting.kind](_setting.name, _setting.default, _help(_setting))

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
# The rules themselves are `keras_tna.settings`' and `keras_tna.runs.validation`'s
# (the ones `TrainConfig.validate` applies); the validators report them at
# parse time.
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


def _parse_list(name, what):
    """Checks a sweep list: each value by the rule of setting `name`."""
    kind = settings.SETTINGS[name].kind

    def check(values):
        for value in values:
            try:
                number = kind(value)
            except ValueError:
                raise ValueError(
                    f"{what} must be a comma-separated list of {kind.__name__}s. "
                    f"Received: {value!r}"
                ) from None
            settings.check(name, number)

    return check


for _setting in settings.SETTINGS.values():
    if _setting.kind is not bool:  # absl parses booleans itself
        flags.register_validator(_setting.name, _check_registry(_setting.check))
flags.register_validator("dataset", _check_registry(data_registry.resolve))
flags.register_validator("model", _check_registry(validation.check_network))
flags.register_validator(
    "twin_model",
    _check_registry(lambda name: validation.check_network(name, "twin_model")),
)
flags.register_validator(
    "network_args", _check_registry(validation.parse_network_args)
)
flags.register_validator(
    "kernel_initializer", _check_registry(initializers.kernel_initializer)
)
flags.register_validator("methods", _check_registry(methods.check_names))
flags.register_validator("seeds", _check_registry(_parse_list("seed", "--seeds")))
flags.register_validator("alphas", _check_registry(_parse_list("alpha", "--alphas")))
flags.register_validator(
    "matching_start_epochs",
    _check_registry(_parse_list("matching_start_epoch", "--matching_start_epochs")),
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
            validation.check_twin_checkpoint(None)


_check_flags(
    ["warmup_epochs", "epochs"],
    lambda v: validation.check_warmup(v["warmup_epochs"], v["epochs"]),
)
_check_flags(["method", "methods", "twin_checkpoint"], _check_twin_checkpoint_given)
_check_flags(
    ["twin_reinit", "model", "twin_model"],
    lambda v: validation.check_twin_reinit(
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
    return TrainConfig(
        **{
            field.name: flag_values[field.name].value
            for field in dataclasses.fields(TrainConfig)
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


# ---------------------------------------------------------------- --help
_GROUPS = (
    ("what", "What to train"),
    ("how", "How to train"),
    ("where", "Where and how it runs"),
)
SWEEP_FLAGS = ("methods", "seeds", "alphas", "matching_start_epochs")


def _first_sentence(text, width=70):
    """The first sentence of `text` (not cut at "e.g." or "sec."), at most `width` long."""
    sentence = re.split(r"(?<=\.)\s+(?=[A-Z])", text, maxsplit=1)[0]
    if len(sentence) <= width:
        return sentence
    return sentence[: sentence.rfind(" ", 0, width - 3)].rstrip(",;:") + "..."


def short_help():
    """The main flags, grouped, one line each (`apps/train.py --help`).

    Returns:
        str. Every `keras_tna.settings.SETTINGS` flag and the sweep flags,
        with default (and choices) and the first sentence of its help.
    """

    def line(name, default, text):
        flag = f"--{name}" + ("" if default is None else f"={default}")
        return f"  {flag:<28} {text}"

    lines = []
    for group, title in _GROUPS:
        lines.append(f"{title}:")
        for setting in settings.SETTINGS.values():
            if setting.group == group:
                if setting.choices is not None:
                    text = "|".join(setting.choices)
                else:
                    text = _first_sentence(setting.help)
                lines.append(line(setting.name, setting.default, text))
    lines.append("Sweeps (comma-separated lists; runs go to <output_dir>/<method>/seed_<seed>):")
    for name in SWEEP_FLAGS:
        lines.append(line(name, None, _first_sentence(FLAGS[name].help)))
    return "\n".join(lines)
