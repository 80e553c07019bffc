"""One worker of the MultiWorkerMirroredStrategy tests in tests/distribute/test_distribute.py.

Run with TF_CONFIG in the environment. It trains a tiny TwinModel with SGD on
a fixed dataset (global batch `GLOBAL_BATCH`, auto-shard policy DATA) under
`keras_tna.distribute.make_strategy("multi_worker")`, with
`keras_tna.distribute.BackupAndRestore`, inside
`keras_tna.distribute.stop_on_peer_failure`, and writes its weights to
`<out>/worker<index>.npz`. The test imports `train` to make the one-process
reference with the same code.

    TF_CONFIG='{...}' python tests/_mw_worker.py --out DIR --backup DIR --epochs 4
        [--save_at_epoch 2]   # also write the weights at that epoch's start
        [--die_at_step 8]     # exit abruptly (code EXIT_DIED) before that step
        [--collective_timeout_s 60] [--cluster_timeout_s 120]

It prints `worker <index>: chief=<bool> ...` once the cluster is up,
`worker <index>: dying at <unix time>` before an abrupt exit.
"""

import argparse
import os
import sys
import time

D, C, N = 6, 4, 64  # features, classes, examples
GLOBAL_BATCH = 16  # 4 steps per epoch
EXIT_DIED = 75


def dataset():
    """The fixed training set as a tf.data pipeline of global batches."""
    import numpy as np
    import tensorflow as tf

    from keras_tna import distribute

    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, D)).astype("float32")
    y = rng.integers(0, C, size=N).astype("int32")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
    return distribute.shard(ds, "data")


def build_model():
    """A TwinModel of two small MLPs with fixed initial weights, compiled with SGD."""
    import keras

    from keras_tna import TwinModel

    def net(seed):
        init = keras.initializers.GlorotUniform
        return keras.Sequential(
            [
                keras.Input((D,)),
                keras.layers.Dense(8, activation="relu", kernel_initializer=init(seed)),
                keras.layers.Dense(C, kernel_initializer=init(seed + 100)),
            ]
        )

    model = TwinModel(net(0), net(1), alpha=0.5)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
        twin_optimizer=keras.optimizers.SGD(0.05),
    )
    model.build_optimizers()
    return model


def train(strategy, epochs, backup_dir=None, callbacks=()):
    """Builds the model in `strategy`'s scope and fits it; returns (model, history)."""
    from keras_tna import distribute

    distribute.check_global_batch(GLOBAL_BATCH, strategy)
    with strategy.scope():
        model = build_model()
    callbacks = list(callbacks)
    if backup_dir is not None:
        callbacks.insert(0, distribute.BackupAndRestore(backup_dir, strategy))
    with distribute.stop_on_peer_failure(strategy, backup_dir):
        history = model.fit(
            dataset(), epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks
        )
    return model, history


def state(model, **extra):
    """The model's weights and step counter as a dict of arrays."""
    arrays = {f"w{i}": w.numpy() for i, w in enumerate(model.weights)}
    arrays["iterations"] = model.optimizer.iterations.numpy()
    return arrays | extra


def evaluation(model):
    """`evaluate` on the training set, as {"eval_<metric>": value}."""
    scores = model.evaluate(dataset(), verbose=0, return_dict=True)
    return {f"eval_{name}": float(value) for name, value in scores.items()}


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--backup", default=None)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--save_at_epoch", type=int, default=None)
    parser.add_argument("--die_at_step", type=int, default=None)
    parser.add_argument("--collective_timeout_s", type=float, default=60.0)
    parser.add_argument("--cluster_timeout_s", type=float, default=120.0)
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.time()
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_tna import distribute

    # Two workers share a small machine: one thread each for the ops.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    strategy = distribute.make_strategy(
        "multi_worker",
        collective_timeout_s=args.collective_timeout_s,
        cluster_timeout_s=args.cluster_timeout_s,
    )
    index = distribute.worker_index(strategy)
    print(
        f"worker {index}: chief={distribute.is_chief(strategy)} "
        f"workers={distribute.num_workers(strategy)} "
        f"replicas={strategy.num_replicas_in_sync}, cluster up after "
        f"{time.time() - start:.1f} s",
        flush=True,
    )
    out = os.path.join(args.out, f"worker{index}.npz")

    class SaveOrDie(keras.callbacks.Callback):
        """Saves the weights at an epoch's start; dies abruptly at a step."""

        def on_epoch_begin(self, epoch, logs=None):
            if epoch == args.save_at_epoch:
                np.savez(out, **state(self.model, epochs_run=epoch))

        def on_train_batch_begin(self, batch, logs=None):
            if int(self.model.optimizer.iterations.numpy()) == args.die_at_step:
                print(f"worker {index}: dying at {time.time():.3f}", flush=True)
                os._exit(EXIT_DIED)

    model, history = train(strategy, args.epochs, args.backup, callbacks=[SaveOrDie()])
    np.savez(
        out,
        **state(model, epochs_run=len(history.history["loss"])),
        **evaluation(model),
    )
    print(f"worker {index}: done after {time.time() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
