"""A real accuracy through keras_tna.data: the paper's ConvNet on CIFAR-10 JPEGs.

Loads the real CIFAR-10 image folder with `keras_tna.data.load("folder:<path>")`
(the code path a user's own folder takes: decode, per-folder normalisation,
pad-4 crop + flip, seeded shuffle), trains `keras_tna.models.build("convnet")`
alone (no twin) with the paper's optimiser settings (SGD, lr 0.1, batch 256,
cosine annealing, here over a few epochs instead of 200) and prints the test
accuracy after each epoch.

Usage:
    python benchmarks/cifar10_folder_accuracy.py --epochs 10
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from keras_tna import data  # noqa: E402
from keras_tna import models  # noqa: E402
from shared_cifar10 import DEFAULT_FOLDER, cifar10_folder  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(DEFAULT_FOLDER))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight_decay", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    bundle = data.load(
        f"folder:{cifar10_folder(args.folder)}", batch_size=args.batch_size, seed=args.seed
    )
    print(
        f"loaded {bundle.num_train} train / {bundle.num_test} test images, "
        f"{bundle.num_classes} classes, mean {tuple(round(m, 4) for m in bundle.mean)}, "
        f"std {tuple(round(s, 4) for s in bundle.std)} in {time.perf_counter() - start:.1f} s",
        flush=True,
    )
    model = models.build(
        "convnet",
        bundle.num_classes,
        bundle.input_shape,
        seed=args.seed,
        weight_decay=args.weight_decay,
    )
    steps = args.epochs * int(bundle.train.cardinality())
    model.compile(
        optimizer=keras.optimizers.SGD(
            keras.optimizers.schedules.CosineDecay(args.lr, steps), momentum=args.momentum
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    history = model.fit(
        bundle.train, validation_data=bundle.test, epochs=args.epochs, verbose=2
    )
    train_s = time.perf_counter() - start
    accuracy = history.history["val_accuracy"][-1]
    print(
        f"ConvNet, {args.epochs} epochs, SGD lr {args.lr} (cosine) momentum "
        f"{args.momentum} weight decay {args.weight_decay}, batch {args.batch_size}, "
        f"seed {args.seed}: test accuracy {accuracy:.4f}, training {train_s / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
