"""TwinModel's step on Keras' PyTorch backend beside plain PyTorch TNA steps.

The PyTorch-backend counterpart of `twin_step.py`: for the ConvNet at batch 256
on 32x32x3 inputs, this times three TNA steps on the same data (CE + CE +
alpha * logit matching, SGD momentum 0.9 for each network), interleaved round
by round so that machine noise hits all three:

- plain: a hand-written PyTorch step on `torch.nn.Module` ConvNets (the
         network of `torch_first_epochs.py`, channels first), one `backward()`,
         two `torch.optim.SGD`;
- keras_nets: the same hand-written step (torch autograd, `torch.optim.SGD`)
         on the two Keras ConvNets (`keras_tna.models`, channels last) that
         TwinModel trains: isolates TwinModel's own cost from Keras' layers';
- twin:  `TwinModel`'s train function on those two Keras ConvNets.

It prints median times and the ratios twin/plain and twin/keras_nets (of the
medians and of the minima).

Usage:
    KERAS_BACKEND=torch python benchmarks/torch_twin_step.py --rounds=7
"""

import argparse
import os
import pathlib
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402  (before anything imports TensorFlow: docs/backends.md)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from torch_first_epochs import ConvNet  # noqa: E402

from keras_tna import TwinModel, models  # noqa: E402

ALPHA, LR = 5e-3, 0.01


def hand_written_step(base, twin):
    """A plain PyTorch TNA step on two `torch.nn.Module`s."""
    optimizers = [
        torch.optim.SGD(n.parameters(), lr=LR, momentum=0.9) for n in (base, twin)
    ]

    def step(x, y):
        out, twin_out = base(x), twin(x)
        loss = (
            F.cross_entropy(out, y)
            + F.cross_entropy(twin_out, y)
            + ALPHA * F.mse_loss(out, twin_out, reduction="sum") / out.shape[0]
        )
        for o in optimizers:
            o.zero_grad()
        loss.backward()
        for o in optimizers:
            o.step()
        return loss.item()

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    if keras.backend.backend() != "torch":
        raise SystemExit(f"Run with KERAS_BACKEND=torch. Received: {keras.backend.backend()}")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch_size, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, size=args.batch_size).astype("int64")
    x_last, yt = torch.tensor(x), torch.tensor(y)
    x_first = x_last.permute(0, 3, 1, 2).contiguous()

    torch.manual_seed(0)
    plain = hand_written_step(ConvNet(), ConvNet())
    keras_nets = hand_written_step(
        models.build("convnet", 10, x.shape[1:], seed=0),
        models.build("convnet", 10, x.shape[1:], seed=1),
    )
    model = TwinModel(
        models.build("convnet", 10, x.shape[1:], seed=0),
        models.build("convnet", 10, x.shape[1:], seed=1),
        alpha=ALPHA,
    )
    model.compile(optimizer=keras.optimizers.SGD(LR, momentum=0.9))
    model.build_optimizers()
    model.make_train_function()
    steps = {
        "plain": lambda: plain(x_first, yt),
        "keras_nets": lambda: keras_nets(x_last, yt),
        "twin": lambda: float(model.train_function([(x_last, yt)])["loss"]),
    }
    print(
        f"torch {torch.__version__}, Keras {keras.__version__}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPU cores, "
        f"ConvNet, batch {args.batch_size}, median of {args.rounds} interleaved rounds"
    )
    for fn in steps.values():
        for _ in range(args.warmup):
            fn()
    times = {k: [] for k in steps}
    for _ in range(args.rounds):
        for k, fn in steps.items():
            start = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - start)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    low = {k: min(v) * 1e3 for k, v in times.items()}
    print(f"{'':<12} {'median ms':>10} {'min ms':>8}")
    for k in steps:
        print(f"{k:<12} {med[k]:>10.1f} {low[k]:>8.1f}")
    for ref in ("plain", "keras_nets"):
        print(
            f"twin/{ref}: {med['twin'] / med[ref]:.3f} (medians), "
            f"{low['twin'] / low[ref]:.3f} (minima)"
        )
    print("images/s (median): " + ", ".join(
        f"{k} {args.batch_size / med[k] * 1e3:.0f}" for k in steps))


if __name__ == "__main__":
    main()
