"""Input pipeline throughput beside the ConvNet TNA step it has to feed.

On the real CIFAR-10 image folder (`keras_tna.data.load("folder:<path>")`, the
code path a user's folder takes), at batch 256:

- pipeline: images/s of the augmented training pipeline (pad-4 crop + flip +
  normalisation), iterated on its own after a warm-up epoch (the decoded
  images are already in memory, so this is the per-epoch cost);
- step:     images/s of a bare TNA training step on two ConvNets (one
  `tf.function`: CE + CE + alpha * sum-of-squares logit matching, SGD applied
  to both networks) on a fixed batch;
- fed step: the same step fed by the pipeline (both share the CPU).

Each figure is the median over `--rounds` rounds. The pipeline must deliver at
least 3x what the step consumes (`pipeline / step >= 3`); `fed / step` close to
1 means the step never waits for data.

Usage:
    python benchmarks/data_pipeline.py --folder ~/.cache/keras_tna/cifar10-jpeg
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_tna import data  # noqa: E402
from bare_tna import bare_tna_step  # noqa: E402
from shared_cifar10 import DEFAULT_FOLDER, cifar10_folder  # noqa: E402

def tna_step(input_shape, num_classes):
    """A bare TNA step on two ConvNets (benchmarks/bare_tna.py)."""
    return bare_tna_step("convnet", num_classes, input_shape)


def pipeline_rate(dataset, batches):
    """Images/s of iterating `batches` batches (the pipeline alone)."""
    count, start = 0, time.perf_counter()
    for x, _ in dataset.take(batches):
        count += x.shape[0]
    return count / (time.perf_counter() - start)


def step_rate(step, x, y, steps):
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(x, y)
    float(loss)
    return steps * int(x.shape[0]) / (time.perf_counter() - start)


def fed_rate(step, dataset, steps):
    iterator = iter(dataset.repeat())
    count, start = 0, time.perf_counter()
    for _ in range(steps):
        x, y = next(iterator)
        loss = step(x, y)
        count += int(x.shape[0])
    float(loss)
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(DEFAULT_FOLDER))
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pipeline_batches", type=int, default=196, help="one epoch")
    parser.add_argument("--steps", type=int, default=15)
    args = parser.parse_args()

    folder = cifar10_folder(args.folder)
    start = time.perf_counter()
    bundle = data.load(f"folder:{folder}", batch_size=args.batch_size, seed=0)
    load_s = time.perf_counter() - start
    print(
        f"TF {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPU cores, "
        f"load average {os.getloadavg()[0]:.1f}; batch {args.batch_size}, median of "
        f"{args.rounds} rounds"
    )
    print(
        f"load (decode {bundle.num_train + bundle.num_test} JPEGs once, stats): "
        f"{load_s:.1f} s",
        flush=True,
    )
    step = tna_step(bundle.input_shape, bundle.num_classes)
    x, y = next(iter(bundle.train))
    pipeline_rate(bundle.train, args.pipeline_batches)  # warm-up epoch
    step_rate(step, x, y, 2)  # trace
    rates = {"pipeline": [], "step": [], "fed": []}
    for _ in range(args.rounds):
        rates["pipeline"].append(pipeline_rate(bundle.train, args.pipeline_batches))
        rates["step"].append(step_rate(step, x, y, args.steps))
        rates["fed"].append(fed_rate(step, bundle.train, args.steps))
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"pipeline (augmented) images/s : {med['pipeline']:9.0f}")
    print(f"TNA ConvNet step images/s     : {med['step']:9.0f}")
    print(f"TNA step fed by pipeline img/s: {med['fed']:9.0f}")
    ratio = med["pipeline"] / med["step"]
    print(f"pipeline / step = {ratio:.1f}x (target >= 3x): {'OK' if ratio >= 3 else 'BELOW'}")
    print(f"fed / step = {med['fed'] / med['step']:.2f}")
    print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
