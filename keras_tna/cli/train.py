r"""Trains a network with Twin Network Augmentation (or a baseline); resumable.

One run:

    python apps/train.py --flagfile=configs/table1/convnet_cifar10.flags \
        --methods=tna --seeds=0 --output_dir=runs/convnet_tna

A sweep (methods x seeds [x alphas] [x late-matching starts]) trains every run
into `<output_dir>/<method>/seed_<seed>` and prints the report table:

    python apps/train.py --flagfile=configs/quickstart/digits.flags

Any flag after the flagfile overrides it. Running a finished command again
prints its results without retraining; an interrupted one resumes from its
last finished epoch. `--smoke` shrinks any config to a few steps (tests).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from absl import app  # noqa: E402

from keras_tna.cli import HELP_ARGUMENTS  # noqa: E402
from keras_tna.cli import train_flags  # noqa: E402  (defines the flags)
from keras_tna import methods  # noqa: E402
from keras_tna import tf_logs  # noqa: E402
from keras_tna import training  # noqa: E402
from keras_tna.runs import layout  # noqa: E402

# Exit status of a run (or a sweep) with a diverged or collapsed run.
EXIT_DIVERGED = 3
# Exit status after SIGINT (Ctrl-C): the run is resumable.
EXIT_INTERRUPTED = 130
# Exit status after SIGTERM while waiting for the workers of TF_CONFIG.
EXIT_TERMINATED = 128 + 15


def _error(error):
    sys.exit(f"train.py: error: {error}")


def main(argv):
    if len(argv) > 1:
        sys.exit(
            f"train.py: error: unexpected arguments {argv[1:]}; every setting is "
            "a --flag (see --helpfull)."
        )
    config = train_flags.config_from_flags()
    sweep = train_flags.sweep_from_flags()
    # Settings, paths and the run directory are checked before TensorFlow
    # loads (training.train and training.sweep import it on first use).
    try:
        config.validate()
        if sweep is None and not config.overwrite:
            training.check_run_dir(config)
    except (ValueError, TypeError, FileNotFoundError) as error:
        _error(error)
    warning = methods.divergence_warning((sweep or {}).get("alphas") or [config.alpha])
    if warning is not None:
        print(warning, flush=True)
    tf_logs.quiet_tensorflow_start()  # TensorFlow loads now, without its CPU-machine notices
    try:
        if sweep is None:
            results = training.train(config)
        else:
            runs = training.sweep(config, **sweep)
            return _report_sweep(config, runs)
    except InterruptedError as error:  # SIGTERM while the cluster formed
        print(f"train.py: {error}", file=sys.stderr, flush=True)
        return EXIT_TERMINATED
    except (ValueError, TypeError, OSError, TimeoutError) as error:
        # OSError: a write failed (disk full); the message names the file.
        _error(error)
    except KeyboardInterrupt as error:  # SIGINT: one line, resumable
        print(f"train.py: {error or 'Interrupted (SIGINT).'}", file=sys.stderr,
              flush=True)
        return EXIT_INTERRUPTED
    if results["status"] in layout.FAILED_STATUSES:
        print(f"train.py: {results['message']}", file=sys.stderr)
        return EXIT_DIVERGED
    return 0


def _report_sweep(config, runs):
    """Prints the sweep's report; `EXIT_DIVERGED` when a run diverged or
    collapsed, else 0."""
    from keras_tna import reporting  # matplotlib and scipy: only now

    print()
    reporting.report([config.output_dir], output_dir=config.output_dir)
    failed = [r for r in runs if r["status"] in layout.FAILED_STATUSES]
    for r in failed:
        print(
            f"{r['status'].capitalize()}: {r['method']} alpha={r['alpha']} "
            f"seed={r['seed']}: {r['message']}"
        )
    if not failed:
        return 0
    where = ", ".join(
        f"{r['flags']['output_dir']} ({r['status']})" for r in failed
    )
    print(
        f"train.py: {len(failed)} of {len(runs)} runs diverged or collapsed ({where}); "
        "the other runs finished. Lower alpha or the learning rate for those.",
        file=sys.stderr,
    )
    return EXIT_DIVERGED


def run(argv=None):
    """Entry point of the `keras-tna-train` console script.

    Args:
        argv: list of str or None. The command line; None: `sys.argv`.
    """
    argv = sys.argv if argv is None else argv
    if any(arg in HELP_ARGUMENTS for arg in argv[1:]):
        print(__doc__.rstrip())
        print()
        print(train_flags.short_help())
        print("\nEvery flag (absl's too): --helpfull.")
        sys.exit(0)
    app.run(main, argv=argv)
