"""apps/train.py: its flags and configs (one flagfile per paper table row), --help, the main job."""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest
from absl import flags as absl_flags

from keras_tna import models as tna_models
from keras_tna import training
from keras_tna.cli import train_flags as app_flags
from keras_tna.data import registry as data_registry


REPO = pathlib.Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").rglob("*.flags"))
FLAGS = absl_flags.FLAGS


def _parse(*args):
    FLAGS.unparse_flags()
    FLAGS(["train.py", *args])
    return app_flags.config_from_flags(), app_flags.sweep_from_flags()


@pytest.fixture(autouse=True)
def _reset_flags():
    yield
    FLAGS.unparse_flags()


# ---------------------------------------------------------------- configs
def test_every_paper_table_has_configs():
    names = {p.relative_to(REPO / "configs").as_posix() for p in CONFIGS}
    counts = {
        group: sum(n.startswith(group + "/") for n in names)
        for group in ("table1", "table2", "table3", "table4", "table7", "table8",
                      "fig4", "fig5", "quickstart", "sec4_2")
    }
    assert counts == {
        "table1": 11, "table2": 4, "table3": 2, "table4": 4, "table7": 3,
        "table8": 9, "fig4": 2, "fig5": 1, "quickstart": 1, "sec4_2": 6,
    }


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_flagfile_loads_and_every_name_resolves(path):
    text = path.read_text()
    relative = path.relative_to(REPO).as_posix()
    header = "".join(line for line in text.splitlines(True) if line.startswith("#"))
    assert f"--flagfile={relative}" in header  # the command
    assert "Table" in header or "Fig." in header
    assert "paper figure" in header.lower()
    named = re.findall(r"(?:docs|configs)/[\w./-]*\w", header)  # files the header points to
    assert all((REPO / name).exists() for name in named), [
        name for name in named if not (REPO / name).exists()]
    config, sweep = _parse(f"--flagfile={path}")
    assert config.model in tna_models.available()
    if config.twin_model is not None:
        assert config.twin_model in tna_models.available()
    data_registry.resolve(config.dataset)
    runs = (
        training.sweep_configs(config, **sweep) if sweep is not None else [config]
    )
    for run in runs:
        if run.method == "frozen_twin":
            # The twin is the base.keras of the pretraining config beside it.
            pretrain, _ = _parse(
                f"--flagfile={path.parent / 'resnet18_tinyimagenet_pretrain_twin.flags'}"
            )
            assert run.twin_checkpoint == f"{pretrain.output_dir}/base.keras"
            with pytest.raises(FileNotFoundError, match="train the twin first"):
                run.validate()
            run = run.replace(method="tna")
        run.validate()


def test_flagfile_overrides_and_sweep_expansion():
    path = REPO / "configs" / "table7" / "resnet18_cifar10.flags"
    config, sweep = _parse(f"--flagfile={path}", "--epochs=3", "--seeds=5")
    assert config.epochs == 3
    runs = training.sweep_configs(config, **sweep)
    assert [r.alpha for r in runs] == [0.0, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 1e-1]
    assert runs[3].output_dir == "runs/table7/resnet18_cifar10/tna_alpha0.001/seed_5"
    # A single run is not repeated per alpha; runs are ordered seed by seed.
    runs = training.sweep_configs(
        config, methods=["single", "tna"], seeds=[0, 1], alphas=[0.0, 0.01]
    )
    assert [(r.method, r.seed, r.alpha) for r in runs] == [
        ("single", 0, config.alpha), ("tna", 0, 0.0), ("tna", 0, 0.01),
        ("single", 1, config.alpha), ("tna", 1, 0.0), ("tna", 1, 0.01),
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model=resnet1000"], "Unknown network 'resnet1000'"),
        (["--dataset=cifar11"], "Unknown dataset 'cifar11'"),
        (["--method=boosting"], "`method` must be one of"),
        (["--kernel_initializer=zeroish"], "Unknown kernel initializer"),
        (["--methods=single,boosting"], "Unknown method"),
        (["--alpha=-1"], "alpha"),
        (["--seeds=0,x"], "comma-separated list of ints"),
        (["--warmup_epochs=5", "--epochs=5"], "warmup_epochs must be smaller"),
        (["--method=frozen_twin"], "needs --twin_checkpoint"),
        (["--flagfile=configs/nope.flags"], "nope.flags"),
    ],
)
def test_bad_flags_fail_at_parse_time(args, message):
    with pytest.raises(absl_flags.Error, match=message):
        _parse(*args)


def test_flags_txt_reruns_the_same_run(tna_smoke_run):
    """A run's flags.txt, given back to apps/train.py, is the same run."""
    config, _ = tna_smoke_run
    rerun, sweep = _parse(f"--flagfile={config.output_dir}/flags.txt")
    assert sweep is None
    assert rerun == config


def test_cli_bad_flag_is_one_line_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "apps/train.py", "--model=resnet1000",
         f"--output_dir={tmp_path}"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "resnet1000" in line]
    assert len(errors) == 1 and "Flags parsing error" in errors[0]
    assert not any(tmp_path.iterdir())  # nothing was started


@pytest.mark.large
def test_training_imports_and_checks_configs_without_tensorflow(run_python):
    """`keras_tna.training` and `keras_tna.runs` import with TensorFlow blocked."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("needs jax: the TensorFlow backend imports TensorFlow")
    result = run_python(
        "import sys\n"
        "sys.modules['tensorflow'] = None\n"
        "from keras_tna import runs, training\n"
        "config = training.TrainConfig(dataset='digits', image_size=32).validate()\n"
        "print(config.method_spec.effective_alpha(config),\n"
        "      training.make_optimizer('sgd', 0.1, 10, 2))\n",
        backend="jax",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1].startswith("0.005 ")


@pytest.mark.large
@pytest.mark.parametrize("app, own_flag", [
    ("report.py", "--[no]plots"),           # its own flag
    ("compute_report.py", "--num_classes"),
    ("probes.py", "--probe_batch_size"),
])
def test_help_lists_the_programs_flags(app, own_flag):
    """absl's --help lists only __main__'s flags; the apps define none there."""
    done = subprocess.run([sys.executable, f"apps/{app}", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    flag_lines = [line.split(":")[0].strip() for line in done.stdout.splitlines()
                  if line.startswith("  --")]
    assert own_flag in flag_lines, done.stdout[-2000:]
    assert "--runs" in flag_lines and "--output_dir" in flag_lines  # the shared flags


@pytest.mark.large
def test_main_job_commandsmoke_config(tmp_path):
    command = [
        sys.executable, "apps/train.py",
        "--flagfile=configs/quickstart/digits.flags",
        "--smoke", "--seeds=0", f"--output_dir={tmp_path}",
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                           timeout=300, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "Gain TNA" in first.stdout
    assert (tmp_path / "report.md").is_file()
    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                            timeout=300, env=env)
    assert second.returncode == 0
    assert second.stdout.count("not retraining") == 2
