"""The progressive re-initialisation experiment (paper sec. 4.2): flag, configs, report."""

import json
import pathlib

import numpy as np
import pytest
from absl import flags as absl_flags
from scipy import stats as scipy_stats

from keras_tna import models as tna_models
from keras_tna import training
from keras_tna import reporting
from keras_tna.runs import validation
from keras_tna.runs import layout
from keras_tna.twins import make_twin

REPO = pathlib.Path(__file__).resolve().parents[1]
REINIT_CONFIGS = sorted((REPO / "configs" / "sec4_2").glob("*.flags"))
FLAGS = absl_flags.FLAGS


@pytest.fixture(autouse=True)
def _reset_flags():
    yield
    FLAGS.unparse_flags()


def _parse(*args):
    from keras_tna.cli import train_flags

    FLAGS.unparse_flags()
    FLAGS(["train.py", *args])
    return train_flags.config_from_flags(), train_flags.sweep_from_flags()


# ---------------------------------------------------------------- the setting
@pytest.mark.parametrize(
    "value, expected",
    [("all", "all"), ("none", []), ("block_1", ["block_1"]),
     ("block_1, logits", ["block_1", "logits"])],
)
def test_parse_twin_reinit(value, expected):
    assert validation.parse_twin_reinit(value) == expected


@pytest.mark.parametrize("value", ["", " ", "block_1,,logits", "all,block_1", None, 3])
def test_bad_twin_reinit_is_refused_naming_it(value):
    with pytest.raises(ValueError, match="twin_reinit") as error:
        validation.parse_twin_reinit(value)
    assert "Received: twin_reinit=" in str(error.value)
    assert "\n" not in str(error.value)


def test_reinit_needs_the_base_network_as_twin():
    config = training.TrainConfig(twin_reinit="block_1", twin_model="resnet18")
    with pytest.raises(ValueError, match="leave --twin_model unset"):
        config.validate()
    # The same network named explicitly is fine.
    training.TrainConfig(twin_reinit="block_1", twin_model="convnet").validate()


def test_reinit_flag_error_at_parse_time():
    with pytest.raises(absl_flags.IllegalFlagValueError, match="leave --twin_model unset"):
        _parse("--twin_reinit=logits", "--twin_model=resnet18")


def test_keras_hub_and_keras_cv_prefixes_pass_the_network_check():
    validation.check_network("keras_hub:ResNetBackbone")
    validation.check_network("keras_cv:ResNetBackbone")
    with pytest.raises(ValueError, match="keras_hub:<BackboneClass>"):
        validation.check_network("hub:ResNetBackbone")


def test_old_flags_files_without_twin_reinit_still_match():
    """Runs written before the flag existed are the same runs (resume, skip)."""
    run_dir = REPO / "docs/results/table1_convnet_cifar10_20ep/runs/tna/seed_0"
    stored = training.TrainConfig.from_flag_strings(
        layout.read_flagfile(run_dir / layout.FLAGS_FILE)
    )
    assert "twin_reinit" not in (run_dir / layout.FLAGS_FILE).read_text()
    assert stored.twin_reinit == "all"
    config, sweep = _parse("--flagfile=configs/evidence/convnet_cifar10_20ep.flags")
    (current,) = [
        c for c in training.sweep_configs(config, **sweep)
        if c.method == "tna" and c.seed == 0
    ]
    assert current.identity() == stored.identity()
    # A single run ignores the setting: its identity does not depend on it.
    single = current.replace(method="single")
    assert single.identity() == single.replace(twin_reinit="none").identity()


# ---------------------------------------------------------------- the twin
def _convnet(seed):
    return tna_models.build("convnet", 10, (32, 32, 3), seed=seed)


@pytest.mark.parametrize("layer", ["block_1", "block_5", "logits"])
def test_make_twin_redraws_only_the_named_layer(layer):
    base = _convnet(seed=0)
    twin = make_twin(base, reinit=[layer], seed=1000)
    for base_layer in base.layers:
        for b, t in zip(base_layer.get_weights(), twin.get_layer(base_layer.name).get_weights()):
            if base_layer.name == layer and b.ndim > 1:
                assert not np.array_equal(b, t), base_layer.name
            elif base_layer.name != layer:
                np.testing.assert_array_equal(b, t)
    # Equal seeds give equal twins; the twin's own weights are separate objects.
    again = make_twin(base, reinit=[layer], seed=1000)
    np.testing.assert_array_equal(
        twin.get_layer(layer).get_weights()[0], again.get_layer(layer).get_weights()[0]
    )
    assert twin.get_layer(layer).kernel is not base.get_layer(layer).kernel


def test_make_twin_none_is_an_exact_copy():
    base = _convnet(seed=0)
    twin = make_twin(base, reinit=[], seed=1000)
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(base.predict(x, verbose=0), twin.predict(x, verbose=0))


def test_make_twin_unknown_layer_names_the_flag_and_the_layers():
    with pytest.raises(ValueError) as error:
        make_twin(_convnet(seed=0), reinit=["block_3", "conv9"], seed=1)
    message = str(error.value)
    assert "--twin_reinit" in message and "['block_3', 'conv9']" in message
    assert "'block_1', 'block_2', 'block_4', 'block_5', 'logits'" in message


# ---------------------------------------------------------------- configs, smoke
def test_one_config_per_weight_layer_of_the_convnet_and_none():
    names = {p.stem.removeprefix("convnet_cifar10_reinit_") for p in REINIT_CONFIGS}
    base = _convnet(seed=0)
    layers = {layer.name for layer in base.layers if layer.weights}
    assert names == layers | {"none"}


@pytest.mark.large
@pytest.mark.parametrize("path", REINIT_CONFIGS, ids=lambda p: p.stem)
def test_reinit_config_runs_in_smoke_mode(path, tmp_path):
    config, sweep = _parse(
        f"--flagfile={path}", "--smoke", "--dataset=digits", "--image_size=32",
        "--seeds=0", "--learning_rate=0.01", "--verbose=0",
        f"--output_dir={tmp_path}",
    )
    (run,) = training.sweep_configs(config, **sweep)
    results = training.train(run)
    assert results["status"] == "completed"
    setting = path.stem.removeprefix("convnet_cifar10_reinit_")
    assert results["twin_reinit"] == setting
    saved = json.loads((tmp_path / "tna" / "seed_0" / "results.json").read_text())
    assert saved["twin_reinit"] == setting
    if setting == "none":
        # Identical networks get identical updates: the twin stays the base.
        assert results["matching_loss"] == 0.0
        assert results["twin_accuracy"] == results["base_accuracy"]
    else:
        assert results["matching_loss"] > 0.0


# ---------------------------------------------------------------- report
def _result(reinit, seed, base, twin, ensemble, method="tna"):
    return {
        "method": method, "model": "convnet", "twin_model": "convnet",
        "twin_reinit": reinit, "dataset": "cifar10", "learning_rate": 0.1,
        "epochs": 20, "alpha": 5e-3, "matching_start_epoch": 0, "seed": seed,
        "status": "completed", "base_accuracy": base, "twin_accuracy": twin,
        "ensemble_accuracy": ensemble,
    }


def test_reinit_table_layout_and_welch_against_scipy():
    independent = [0.80, 0.82, 0.81]
    block_1 = [0.79, 0.80, 0.83]
    results = (
        [_result("all", s, a, a - 0.01, a + 0.01) for s, a in enumerate(independent)]
        + [_result("block_1", s, a, a, a + 0.02) for s, a in enumerate(block_1)]
        + [_result("none", s, a, a, a) for s, a in enumerate([0.78, 0.79])]
        + [{**_result(None, 0, 0.77, None, None, method="single"), "twin_model": None}]
    )
    table = reporting.reinit_table(results)
    assert table is not None
    by_start = {row[2]: row for row in table.rows}
    assert set(by_start) == {"independent", "= base", "= base, block_1 re-init"}
    row = by_start["= base, block_1 re-init"]
    assert row[3] == "80.67 ± 2.08% (n=3)"  # mean and sample std by hand
    t, p = scipy_stats.ttest_ind(
        [100 * v for v in block_1], [100 * v for v in independent], equal_var=False
    )
    assert row[6] == f"{80.667 - 81.0:+.2f} (t={t:.2f}, p={p:.3g})"
    assert by_start["independent"][6] == ""
    # Without re-initialised runs there is no such table.
    assert reporting.reinit_table(results[:3]) is None
    # And the report's list of tables includes it.
    assert any(t.title.startswith("Progressive") for t in reporting.tables(results))
