"""CIFAR ResNet-18, single vs TNA: images/s and epoch time on this accelerator.

Trains `keras_tna.models.build("resnet18")` on the shared CIFAR-10 image
folder, alone ("single", cross-entropy) and as a TNA pair
(`TwinModel(base, make_twin(base), alpha=5e-3)`), with the paper's optimiser
(SGD, lr 0.1, momentum 0.9, weight decay 5e-4, batch 256). The data come from
`keras_tna.data.load_arrays` (no TensorFlow: PIL decoding once, uint8 batches
moved to the device, pad-4 crop + flip + normalisation there), so this runs on
a machine with JAX and no TensorFlow. The backend is whatever KERAS_BACKEND
says; the script is meant for KERAS_BACKEND=jax on a GPU.

Per method it prints the first epoch's time (it includes compilation), then
for the later epochs the mean epoch time, training images per second (a TNA
image goes through both networks) and the projected time of a full 50,000
image epoch. `--steps` caps the steps per epoch to keep a run short. With
`--record` the figures are appended to benchmarks/RESULTS.md with the device
and the command (refused on a CPU: record accelerator figures only).

Usage:
    KERAS_BACKEND=jax python benchmarks/jax_resnet18.py --epochs 3 --record
    KERAS_BACKEND=jax python benchmarks/jax_resnet18.py --epochs 2 --steps 2 \
        --batch_size 32 --no-eval   # a smoke run on a CPU
"""

import argparse
import os
import pathlib
import platform
import shlex
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_tna  # noqa: E402
from keras_tna.data import load_arrays  # noqa: E402
from shared_cifar10 import DEFAULT_FOLDER, cifar10_folder  # noqa: E402

ALPHA = 5e-3
RESULTS = pathlib.Path(__file__).with_name("RESULTS.md")


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch, ended once the epoch's loss is on the host."""

    def __init__(self):
        super().__init__()
        self.seconds, self.losses = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.losses.append(float(logs["loss"]))  # waits for the device
        self.seconds.append(time.perf_counter() - self._start)


def device_name():
    """The accelerator (or CPU) that runs the current backend, in words."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "cpu":
            return f"{device.device_kind} ({device.platform}, {jax.device_count()} device(s))"
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return f"{details.get('device_name', 'GPU')} (gpu, {len(gpus)} device(s))"
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            return f"{torch.cuda.get_device_name(0)} (gpu, {torch.cuda.device_count()} device(s))"
    return f"CPU: {cpu_model()} ({os.cpu_count()} cores)"


def cpu_model():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def build(method, bundle, args):
    base = keras_tna.models.build(
        "resnet18", bundle.num_classes, bundle.input_shape, seed=args.seed,
        weight_decay=args.weight_decay,
    )

    def sgd():
        return keras.optimizers.SGD(args.lr, momentum=args.momentum)

    if method == "single":
        base.compile(
            optimizer=sgd(),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return base, base.count_params()
    twin = keras_tna.make_twin(base, seed=args.seed + 1)
    model = keras_tna.TwinModel(base, twin, alpha=ALPHA)
    model.compile(optimizer=sgd(), twin_optimizer=sgd())
    return model, base.count_params() + twin.count_params()


def run(method, bundle, args):
    keras.utils.set_random_seed(args.seed)
    model, params = build(method, bundle, args)
    timer = EpochTimer()
    steps = min(args.steps or len(bundle.train), len(bundle.train))
    model.fit(
        bundle.train, epochs=args.epochs, steps_per_epoch=steps, callbacks=[timer],
        verbose=0,
    )
    result = {
        "method": method,
        "params": params,
        "steps": steps,
        "first_epoch_s": timer.seconds[0],
        "loss": timer.losses[-1],
    }
    later = timer.seconds[1:] or timer.seconds  # one epoch: compile included
    epoch_s = statistics.mean(later)
    result["epoch_s"] = epoch_s
    result["images_per_s"] = steps * args.batch_size / epoch_s
    result["full_epoch_s"] = len(bundle.train) * args.batch_size / result["images_per_s"]
    result["steady"] = len(timer.seconds) > 1
    if args.eval:
        logs = model.evaluate(bundle.test, verbose=0, return_dict=True)
        result["test_accuracy"] = logs.get("base_accuracy", logs.get("accuracy"))
    return result


def table(results):
    lines = [
        "| method | params | steps/epoch | first epoch (compile) s | epoch s | images/s "
        "| full epoch s (projected) | last loss | test accuracy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        accuracy = f"{r['test_accuracy']:.4f}" if "test_accuracy" in r else "-"
        lines.append(
            f"| {r['method']} | {r['params']:,} | {r['steps']} | {r['first_epoch_s']:.1f} "
            f"| {r['epoch_s']:.2f} | {r['images_per_s']:.0f} | {r['full_epoch_s']:.1f} "
            f"| {r['loss']:.3f} | {accuracy} |"
        )
    return "\n".join(lines)


def versions():
    parts = [f"Keras {keras.__version__} ({keras.backend.backend()})"]
    if keras.backend.backend() == "jax":
        import jax

        parts.append(f"jax {jax.__version__}")
    parts.append(f"Python {platform.python_version()}")
    return ", ".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(DEFAULT_FOLDER),
                        help="CIFAR-10 image folder (train/, test/)")
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs per method; the first includes compilation")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per epoch (default: a whole epoch)")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--methods", default="single,tna")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight_decay", type=float, default=5e-4)
    parser.add_argument("--dtype_policy", default="float32",
                        choices=["float32", "mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval", action=argparse.BooleanOptionalAction, default=True,
                        help="test accuracy after training (not timed)")
    parser.add_argument("--cache_dir", default=None,
                        help="decoded-image cache (default ~/.cache/keras_tna/arrays)")
    parser.add_argument("--record", action="store_true",
                        help="append the figures to benchmarks/RESULTS.md")
    args = parser.parse_args()
    methods = [m.strip() for m in args.methods.split(",")]
    if not set(methods) <= {"single", "tna"} or args.epochs < 1:
        parser.error(
            "--methods takes single and/or tna, --epochs is >= 1. Received: "
            f"--methods={args.methods} --epochs={args.epochs}"
        )

    device = device_name()
    if args.record and device.startswith("CPU"):
        parser.error("--record appends accelerator figures; this run is on a CPU.")
    keras.config.set_dtype_policy(args.dtype_policy)
    folder = cifar10_folder(args.folder)
    start = time.perf_counter()
    bundle = load_arrays(
        f"folder:{folder}", batch_size=args.batch_size, seed=args.seed,
        cache_dir=args.cache_dir, drop_remainder=True,
    )
    load_s = time.perf_counter() - start
    tf_loaded = "tensorflow" in sys.modules and sys.modules["tensorflow"] is not None
    print(f"device: {device}; {versions()}; TensorFlow imported: {tf_loaded}")
    print(
        f"data: {bundle.num_train} + {bundle.num_test} images from {folder} in {load_s:.1f} s "
        f"(load_arrays); batch {args.batch_size}, {args.dtype_policy}", flush=True,
    )
    results = []
    for method in methods:
        results.append(run(method, bundle, args))
        r = results[-1]
        print(
            f"{method:6s}: first epoch {r['first_epoch_s']:.1f} s (compile), epoch "
            f"{r['epoch_s']:.2f} s for {r['steps']} steps, {r['images_per_s']:.0f} images/s, "
            f"full epoch {r['full_epoch_s']:.1f} s"
            + ("" if r["steady"] else " (one epoch: compile included)"),
            flush=True,
        )
    print(table(results))
    if {"single", "tna"} <= set(methods):
        single, tna = (next(r for r in results if r["method"] == m) for m in ("single", "tna"))
        print(f"TNA / single epoch time: {tna['epoch_s'] / single['epoch_s']:.2f}x")
    if args.record:
        command = "KERAS_BACKEND={} python {}".format(
            keras.backend.backend(), " ".join(shlex.quote(a) for a in sys.argv)
        )
        with RESULTS.open("a") as f:
            f.write(
                f"\n### CIFAR ResNet-18 single vs TNA on {device}\n\n"
                f"{versions()}; {args.dtype_policy}; data through "
                f"`keras_tna.data.load_arrays` ({load_s:.1f} s to load). Command:\n\n"
                f"    {command}\n\n{table(results)}\n"
            )
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
