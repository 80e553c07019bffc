"""TwinModel's training step beside a single network's and a bare TNA step.

For each network, at batch 256 on 32x32x3 inputs, this times three steps on the
same data, interleaved round by round so that machine noise hits all three:

- single: `keras.Model.fit`'s train function for one network (CE + SGD);
- bare:   a hand-written `tf.function` TNA step on two networks (one tape,
          CE + CE + alpha * logit matching, two SGD optimizers);
- twin:   `TwinModel`'s train function on the same two networks.

It prints the median times and the ratios twin/single and twin/bare (of the
medians, and of the minima, which are less sensitive to other processes on a
shared machine); the TwinModel overhead is `twin/bare - 1`.

Usage:
    python benchmarks/twin_step.py --models=convnet,resnet18 --rounds=7
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from bare_tna import bare_tna_step  # noqa: E402
from keras_tna import TwinModel, models  # noqa: E402

ALPHA = 5e-3


def sgd():
    return keras.optimizers.SGD(0.01, momentum=0.9)


def single_step(name, x, y):
    net = models.build(name, 10, x.shape[1:], seed=0)
    net.compile(
        optimizer=sgd(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    net.make_train_function()
    it = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
    return lambda: net.train_function(it)


def twin_step(name, x, y):
    model = TwinModel(
        models.build(name, 10, x.shape[1:], seed=0),
        models.build(name, 10, x.shape[1:], seed=1),
        alpha=ALPHA,
    )
    model.compile(optimizer=sgd())
    model.build_optimizers()
    model.make_train_function()
    it = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
    return lambda: model.train_function(it)


def bare_step(name, x, y):
    step = bare_tna_step(name, 10, x.shape[1:], alpha=ALPHA)
    xt, yt = tf.constant(x), tf.constant(y)
    return lambda: step(xt, yt)


def block(fn):
    out = fn()
    # Wait for the result: pull one scalar to the host.
    leaf = tf.nest.flatten(out)[0]
    np.asarray(leaf)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="convnet,resnet18")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch_size, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, size=args.batch_size).astype("int32")
    print(
        f"TF {tf.__version__}, Keras {keras.__version__}, "
        f"{os.cpu_count()} CPU cores, batch {args.batch_size}, "
        f"median of {args.rounds} interleaved rounds"
    )
    header = (
        f"{'model':<10} {'single ms':>10} {'bare ms':>9} {'twin ms':>9} "
        f"{'twin/single':>12} {'twin/bare':>10} {'twin/bare(min)':>15}"
    )
    print(header)
    for name in args.models.split(","):
        steps = {
            "single": single_step(name, x, y),
            "bare": bare_step(name, x, y),
            "twin": twin_step(name, x, y),
        }
        for fn in steps.values():
            for _ in range(args.warmup):
                block(fn)
        times = {k: [] for k in steps}
        for _ in range(args.rounds):
            for k, fn in steps.items():
                start = time.perf_counter()
                block(fn)
                times[k].append(time.perf_counter() - start)
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        low = {k: min(v) for k, v in times.items()}
        print(
            f"{name:<10} {med['single']:>10.1f} {med['bare']:>9.1f} "
            f"{med['twin']:>9.1f} {med['twin'] / med['single']:>12.2f} "
            f"{med['twin'] / med['bare']:>10.3f} "
            f"{low['twin'] / low['bare']:>15.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
