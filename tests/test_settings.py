"""One rule per setting: a bad value says the same thing as a flag, a config and an API argument.

`keras_tna.settings.SETTINGS` declares each setting once; the flags of
`apps/train.py`, `TrainConfig` and `TwinModel`'s checks derive from it. These
tests feed the same bad value through each path and compare the messages.
"""

import dataclasses
import math

import numpy as np
import pytest
from absl import flags as absl_flags

from keras_tna import settings
from keras_tna.cli import train_flags
from keras_tna.training import TrainConfig

FLAGS = absl_flags.FLAGS


@pytest.fixture(autouse=True)
def _reset_flags():
    FLAGS.unparse_flags()
    yield
    FLAGS.unparse_flags()


def _flag_error(*args):
    """The message absl gives for these flags (after its `flag --name=value: `)."""
    with pytest.raises(absl_flags.IllegalFlagValueError) as error:
        FLAGS(["train.py", *args])
    return str(error.value)


def _config_error(**fields):
    with pytest.raises((ValueError, TypeError)) as error:
        TrainConfig(**fields).validate()
    return str(error.value)


def _bad_values(setting):
    """Flag strings of values the setting's rule refuses (derived from the rule)."""
    if setting.choices is not None:
        return ["nope"]
    if setting.kind is int:
        low = (setting.minimum if setting.minimum is not None else 0) - 1
        bad = [str(int(low))]
        if setting.maximum is not None:
            bad.append(str(int(setting.maximum) + 1))
        return bad
    if setting.kind is float:
        bad = ["inf", "nan"]
        if setting.minimum is not None:
            bad.append(repr(float(setting.minimum) if setting.exclusive else setting.minimum - 1.0))
        return bad
    return []


CASES = [
    (name, value)
    for name, setting in settings.SETTINGS.items()
    for value in _bad_values(setting)
]
# What the registries and cross-setting checks refuse (keras_tna.runs.validation).
REGISTRY_CASES = [
    ("dataset", "cifar11"),
    ("model", "resnet1000"),
    ("twin_model", "resnet1000"),
    ("kernel_initializer", "zeroish"),
    ("network_args", "[1]"),
    ("network_args", '{"seed": 1}'),
    ("twin_reinit", "block_1,,logits"),
]


def _typed(name, text):
    kind = settings.SETTINGS[name].kind
    return kind(float(text)) if kind is int else kind(text)


def test_every_bounded_setting_has_a_case():
    bounded = {
        name for name, s in settings.SETTINGS.items()
        if s.choices is not None or s.kind in (int, float)
    }
    assert bounded == {name for name, _ in CASES}
    assert len(bounded) >= 20


@pytest.mark.parametrize("name,text", CASES + REGISTRY_CASES)
def test_flag_and_config_say_the_same(name, text):
    flag = _flag_error(f"--{name}={text}")
    config = _config_error(**{name: _typed(name, text)})
    assert flag.endswith(": " + config), (flag, config)
    assert "Received:" in config and "\n" not in config


# The settings TwinModel takes too, with values a flag can carry.
TWIN_MODEL_CASES = [
    ("alpha", "inf"), ("alpha", "nan"), ("alpha", "-1.0"),
    ("temperature", "0.0"), ("temperature", "-2.0"), ("temperature", "inf"),
    ("matching_start_epoch", "-1"),
    ("batch_size", "0"),
]


@pytest.mark.parametrize("name,text", TWIN_MODEL_CASES)
def test_flag_config_and_twin_model_say_the_same(name, text):
    # Imported here: the flag and config paths above need no Keras.
    from keras_tna import TwinModel

    from _tiny_nets import D, dense  # tests/_tiny_nets.py

    value = _typed(name, text)
    flag = _flag_error(f"--{name}={text}")
    config = _config_error(**{name: value})
    with pytest.raises((ValueError, TypeError)) as error:
        if name == "batch_size":
            x = np.zeros((8, D), "float32")
            y = np.zeros(8, "int32")
            model = TwinModel(dense(0), dense(1))
            model.compile(optimizer="sgd")
            model.fit(x, y, batch_size=value, verbose=0)
        else:
            matching = {"temperature": {"matching": "dml"}}.get(name, {})
            TwinModel(dense(0), dense(1), **{name: value}, **matching)
    api = str(error.value)
    assert api == config, (api, config)
    assert flag.endswith(": " + api), (flag, api)


def test_twin_model_cases_cover_its_settings():
    assert {name for name, _ in TWIN_MODEL_CASES} == set(settings.TWIN_MODEL_SETTINGS)


# The sweep lists of apps/train.py: each value by its setting's rule.
SWEEP_CASES = [
    ("alphas", "alpha", "inf"), ("alphas", "alpha", "nan"), ("alphas", "alpha", "-1.0"),
    ("seeds", "seed", "-1"),
    ("matching_start_epochs", "matching_start_epoch", "-1"),
]


@pytest.mark.parametrize("flag,name,text", SWEEP_CASES)
def test_sweep_lists_check_each_value_by_its_setting(flag, name, text):
    listed = _flag_error(f"--{flag}=0,{text}")
    assert listed.endswith(": " + _config_error(**{name: _typed(name, text)})), listed


def test_alpha_inf_says_finite_everywhere():
    message = _config_error(alpha=math.inf)
    assert message.startswith("`alpha` must be a finite number >= 0")
    assert _flag_error("--alpha=inf").endswith(message)


def test_temperature_loss_uses_the_same_rule():
    from keras_tna.losses import MutualKL

    with pytest.raises(ValueError) as error:
        MutualKL(temperature=0.0)
    assert str(error.value) == _config_error(temperature=0.0)


def test_wrong_types_are_type_errors_with_the_same_text():
    setting = settings.SETTINGS["alpha"]
    for value in (True, "5e-3", None):
        with pytest.raises(TypeError) as error:
            setting.check(value)
        assert str(error.value) == setting.message(value)
    setting.check(np.float32(0.5))  # numpy numbers are numbers
    setting.check(np.int64(0))


# ------------------------------------------------------- derived, not repeated
def test_config_fields_are_the_settings():
    fields = dataclasses.fields(TrainConfig)
    assert [f.name for f in fields] == list(settings.SETTINGS)
    for field in fields:
        setting = settings.SETTINGS[field.name]
        assert (field.type, field.default) == (setting.kind, setting.default)
        assert f"    {field.name}: {setting.doc_type()}." in TrainConfig.__doc__


def test_flags_are_the_settings():
    for name, setting in settings.SETTINGS.items():
        flag = FLAGS[name]
        assert flag.default == setting.default, name
        assert flag.help.startswith(setting.help), name


def test_defaults_are_valid_and_paper_values_follow_the_rules(tmp_path):
    TrainConfig(output_dir=str(tmp_path)).validate()
    for setting in settings.SETTINGS.values():
        if setting.paper is not None:
            setting.check(setting.paper)


def test_config_from_flags_round_trip(tmp_path):
    FLAGS(["train.py", "--alpha=0.01", "--epochs=3", f"--output_dir={tmp_path}"])
    config = train_flags.config_from_flags()
    assert (config.alpha, config.epochs) == (0.01, 3)
    assert config == TrainConfig(alpha=0.01, epochs=3, output_dir=str(tmp_path))


def test_short_help_lists_every_setting_once_by_group():
    text = train_flags.short_help()
    for name in [*settings.SETTINGS, *train_flags.SWEEP_FLAGS]:
        assert sum(line.split()[0].split("=")[0] == f"--{name}"
                   for line in text.splitlines() if line.startswith("  --")) == 1, name
    groups = [line for line in text.splitlines() if not line.startswith(" ")]
    assert groups[:3] == ["What to train:", "How to train:", "Where and how it runs:"]
    assert max(len(line) for line in text.splitlines()) <= 110
