"""`train`: one training run, start to end, on TensorFlow (tf.data + tf.distribute).

A run owns one output directory, read and written through
`keras_tna.runs.record.RunRecord` while this process holds its lock; `train`
decides with `keras_tna.training.resume` whether to start, resume or reuse
it, builds the networks and the optimizer (`keras_tna.training.networks`),
fits with the run's callbacks (a checkpoint unit after every epoch),
evaluates and writes `results.json`; what it prints is
`keras_tna.training.console`'s.
"""

import contextlib
import math
import platform
import time

import keras
import numpy as np
import tensorflow as tf

import keras_tna
from keras_tna import data as tna_data
from keras_tna import distribute
from keras_tna.callbacks import DivergenceGuard
from keras_tna.runs import collapse as run_collapse
from keras_tna.runs import layout
from keras_tna.runs import record as run_record
from keras_tna.runs.config import TrainConfig
from keras_tna.settings import SMOKE_BATCH_SIZE, SMOKE_EPOCHS, SMOKE_STEPS
from keras_tna.training import console, resume
from keras_tna.training.callbacks import EpochExtras, RunCheckpoint
from keras_tna.training.networks import build_and_compile, count_params


class _PrecisionPolicy:
    """Sets keras' global dtype policy inside a `with` block."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.previous = keras.config.dtype_policy().name
        keras.config.set_dtype_policy(self.name)

    def __exit__(self, *exc):
        keras.config.set_dtype_policy(self.previous)


def versions():
    """Versions of Python, TensorFlow, Keras, numpy and keras_tna."""
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "keras_tna": keras_tna.__version__,
    }


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


def train(config, callbacks=None):
    """Runs (or resumes, or reuses) one training run; returns its results.

    Args:
        config: `TrainConfig`. The run.
        callbacks: list of `keras.callbacks.Callback` or None. Extra callbacks
            for `fit` (run after the run's own ones).

    Returns:
        dict: the contents of `results.json` (keys: `layout.RESULTS_KEYS`), with
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
    record = run_record.RunRecord(config.output_dir)
    status = resume.run_dir_status(config)
    if status == "done":
        return _reuse(record)
    clock = time.time()
    strategy = distribute.make_strategy(
        config.strategy, config.tpu_address, cluster_timeout_s=config.peer_timeout_s
    )
    chief = distribute.is_chief(strategy)
    created = not record.path.exists()
    # One live writer: the chief holds the directory's lock from here on.
    try:
        with record.lock() if chief else contextlib.nullcontext():
            results = _locked_train(config, record, status, strategy, clock,
                                    callbacks, chief)
    finally:
        if created and record.path.is_dir() and not any(record.path.iterdir()):
            record.path.rmdir()  # a new run that failed to start leaves nothing
    if results["status"] == "completed":
        print(console.summary_line(results), flush=True)
    return results


def _locked_train(config, record, status, strategy, clock, callbacks, chief):
    """`train` once the lock is held: start, resume; SIGINT -> `RunInterrupted`."""
    try:
        if chief:
            status = resume.run_dir_status(config, held=True)  # again, now held
            if status == "done":
                return _reuse(record)
            record.clean_leftovers()
        return _set_up_and_fit(config, record, status, strategy, clock, callbacks)
    except KeyboardInterrupt:
        if status == "new" and chief:
            record.abandon()
        raise record.interrupted_error() from None
    except BaseException:
        if status == "new" and chief:
            record.abandon()  # only before a finished epoch
        raise


def _reuse(record):
    results = record.read_results()
    print(
        f"{record.path} already holds this run ({results['status']}); not "
        "retraining. Pass --overwrite to train it again.",
        flush=True,
    )
    return results


def _set_up_and_fit(config, record, status, strategy, clock, callbacks):
    """Loads the data, builds the networks, starts the directory, fits."""
    # The TF global seed keys the data pipeline's random ops; the networks'
    # weights come from `seed` alone (seed_scope), set again once data exists.
    keras.utils.set_random_seed(config.effective_data_seed())
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    plan = _Plan(config)
    distribute.check_global_batch(plan.batch_size, strategy)
    jit_compile = distribute.check_jit_compile(config.jit_compile, strategy)
    with _PrecisionPolicy(config.mixed_precision):
        bundle, train_data, test_data, steps = _load_data(config, plan, strategy)
        keras.utils.set_random_seed(config.seed)
        with strategy.scope():
            model, base, twin = build_and_compile(
                config, plan, bundle, steps, jit_compile
            )
        results = _describe(config, plan, bundle, base, twin, steps)
        console.print_header(config, plan, bundle, base, twin, results, strategy)
        # Only now, set up, does the run write its directory (flags.txt).
        resume.start_run_dir(config, status)
        with distribute.worker_dir(record.path, strategy) as run_dir:
            return _fit_and_evaluate(
                config, plan, model, base, twin, train_data, test_data,
                strategy, record, run_record.RunRecord(run_dir), clock, results,
                callbacks,
            )


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
        self.alpha = config.method_spec.effective_alpha(config)  # None for "single"
        self.twin_reinit = config.twin_reinit_layers()  # "all" or layer names


def _load_data(config, plan, strategy):
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
    if plan.batch_size > bundle.num_train:
        raise ValueError(
            f"--batch_size={plan.batch_size} is larger than the training set of "
            f"{config.dataset!r} ({bundle.num_train} training images): every epoch "
            f"would be one batch of {bundle.num_train}. Lower --batch_size to at "
            f"most {bundle.num_train}. Received: batch_size={plan.batch_size}, "
            f"{bundle.num_train} training images"
        )
    steps = _num_steps(train_data, bundle.num_train, plan.batch_size)
    train_data = distribute.shard(train_data, "data")
    test_data = distribute.shard(test_data, "data")
    return bundle, train_data, test_data, steps


def _describe(config, plan, bundle, base, twin, steps_per_epoch):
    """The results.json entries known before training."""
    method = config.method_spec
    return {
        "method": config.method,
        "model": config.model,
        "twin_model": (config.twin_model or config.model) if method.twin else None,
        "twin_checkpoint": config.twin_checkpoint if method.freeze_twin else None,
        "twin_reinit": (
            config.twin_reinit if method.twin and not method.freeze_twin else None
        ),
        "dataset": config.dataset,
        "seed": config.seed,
        "alpha": plan.alpha,
        "matching_start_epoch": plan.matching_start_epoch if method.twin else None,
        "learning_rate": config.learning_rate,
        "batch_size": plan.batch_size,
        "epochs": plan.epochs,
        "steps_per_epoch": steps_per_epoch,
        "num_train": bundle.num_train,
        "num_test": bundle.num_test,
        "num_classes": bundle.num_classes,
        "smoke": config.smoke,
        "params_base": count_params(base),
        "params_twin": count_params(twin) if twin is not None else None,
    }


def _fit_and_evaluate(
    config, plan, model, base, twin, train_data, test_data, strategy, record,
    worker_record, clock, results, callbacks,
):
    """Trains from the last checkpoint, then evaluates and saves.

    `record` is the run directory; `worker_record` where this worker saves
    the networks (the run directory on the chief, a temporary one elsewhere).
    """
    guard = DivergenceGuard()
    checkpoint = record.latest_checkpoint()
    completed = 0
    if checkpoint is not None:
        for note in checkpoint.notes:
            print(note, flush=True)
        model.load_weights(checkpoint.weights_path)
        completed = checkpoint.epoch
        print(
            f"Resuming from the checkpoint after epoch {completed} in "
            f"{checkpoint.weights_path.parent}",
            flush=True,
        )
    saver = RunCheckpoint(record, checkpoint, strategy, guard, clock)
    fit_callbacks = [
        guard,
        EpochExtras(),
        saver,
        keras.callbacks.TensorBoard(
            str(worker_record.file(layout.TENSORBOARD_DIR)), write_graph=False,
            profile_batch=0,
        ),
    ] + list(callbacks or [])
    fit_data, fit_steps = resume.epoch_stream(train_data, completed)
    with distribute.stop_on_peer_failure(strategy, str(record.checkpoints_dir)):
        model.fit(
            fit_data,
            steps_per_epoch=fit_steps,
            validation_data=test_data,
            initial_epoch=completed,
            epochs=plan.epochs,
            validation_freq=config.validation_freq,
            shuffle=False,  # the pipeline shuffles, with the run's seed
            callbacks=fit_callbacks,
            verbose=config.verbose,
        )
    if saver.is_chief:
        record.finish_history(saver.rows)
    if guard.diverged_at is not None:
        _keep_last_good(record, model, guard, results)
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
        collapse = run_collapse.collapse_message(saver.rows, results["num_classes"])
        if collapse is not None:
            results.update(status="collapsed", message=collapse)
            print(f"Warning: {collapse}", flush=True)
        worker_record.save_network(layout.BASE_FILE, base)
        if twin is not None:
            worker_record.save_network(layout.TWIN_FILE, twin)
    results.update(
        wall_time_s=round(saver.wall_time(), 2),
        versions=versions(),
        flags=config.flag_values(),
    )
    worker_record.write_results(results)
    return results


def _keep_last_good(record, model, guard, results):
    """Puts the last good checkpoint back into `model`; fills `results`."""
    checkpoint = record.latest_checkpoint()
    if checkpoint is not None:
        model.load_weights(checkpoint.weights_path)
        kept = (
            f"Kept the checkpoint of the last good epoch ({checkpoint.epoch}) in "
            f"{checkpoint.weights_path.parent}."
        )
    else:
        kept = (
            "No epoch ended with a finite loss, so no checkpoint was kept "
            "(nothing to resume from)."
        )
    results.update(
        status="diverged",
        message=f"{guard.message} {kept}",
        last_good_epoch=0 if checkpoint is None else checkpoint.epoch,
        base_accuracy=None,
        twin_accuracy=None,
        ensemble_accuracy=None,
        base_loss=None,
    )
    print(results["message"], flush=True)


def _maybe(scores, key, twin):
    return float(scores[key]) if twin is not None else None


