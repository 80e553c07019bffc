r"""The first epochs of the Table 1 ConvNet recipe in plain PyTorch, many seeds.

The independent cross-check of `benchmarks/first_epochs.py`: the same network
and recipe written as the paper's PyTorch code (its authors' `kd_lth`
repository) writes them, so that "PyTorch diverges as often" is measured:

- `ConvNet`: conv 16, conv 32, avg-pool 2, conv 64, conv 64, avg-pool 2,
  linear 1600 -> 10, ReLU after each conv, PyTorch's default init (kernels
  and biases U(+-1/sqrt(fan_in))). Base and twin are built one after the
  other after `torch.manual_seed(seed)`.
- `torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=5e-4)` for each
  network, `CosineAnnealingLR(T_max=20)` stepped once per epoch.
- Data: the CIFAR-10 JPEG folder, `ToTensor, Normalize(mean, std)` (mean and
  std of the training images, as keras_tna computes them for folders), then
  `RandomCrop(32, padding=4)` (zero padding after normalisation: the mean
  colour) and a horizontal flip, batch 256, reshuffled each epoch,
  last batch kept.
- TNA: `CE(o_A) + CE(o_B) + alpha * MSELoss(reduction="sum")(o_A, o_B) / B`.

PyTorch is not a dependency of keras_tna: run this in its own environment,

    python3 -m venv /tmp/venv-torch && /tmp/venv-torch/bin/pip install \
        torch==2.13.0 pillow numpy
    nice /tmp/venv-torch/bin/python benchmarks/torch_first_epochs.py \
        --seeds=0-9 --train_epochs=2 \
        --output=docs/results/divergence/torch_first_epochs.json

The summary JSON has the schema of `benchmarks/first_epochs.py`'s.
"""

import argparse
import json
import math
import pathlib
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from shared_cifar10 import DEFAULT_FOLDER  # noqa: E402
from shared_cifar10 import cifar10_folder  # noqa: E402
from seed_lists import parse_seeds  # noqa: E402

CACHE = pathlib.Path.home() / ".cache/keras_tna/cifar10_torch_arrays.npz"


class ConvNet(torch.nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 16, kernel_size=3)
        self.conv2 = torch.nn.Conv2d(16, 32, kernel_size=3)
        self.conv3 = torch.nn.Conv2d(32, 64, kernel_size=3)
        self.conv4 = torch.nn.Conv2d(64, 64, kernel_size=3)
        self.pool = torch.nn.AvgPool2d(2)
        self.lin = torch.nn.Linear(1600, num_classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = self.pool(x)
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = self.pool(x)
        return self.lin(x.reshape(x.shape[0], -1))


def load_arrays(folder):
    """uint8 NCHW images and int64 labels of both splits (cached as .npz)."""
    if CACHE.is_file():
        data = np.load(CACHE)
        return {k: data[k] for k in data.files}
    arrays = {}
    for split in ("train", "test"):
        classes = sorted(p.name for p in (folder / split).iterdir() if p.is_dir())
        images, labels = [], []
        for label, name in enumerate(classes):
            for path in sorted((folder / split / name).iterdir()):
                images.append(np.asarray(Image.open(path).convert("RGB")))
                labels.append(label)
        arrays[f"{split}_x"] = np.stack(images).transpose(0, 3, 1, 2)
        arrays[f"{split}_y"] = np.asarray(labels, np.int64)
    np.savez(CACHE, **arrays)
    return arrays


def augment(x, generator, pad=4):
    """Zero-pads normalised images, crops each at a random offset, flips half."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :]
    flips = torch.rand(n, generator=generator) < 0.5
    cols = torch.where(flips[:, None, None, None], cols.flip(-1), cols)
    batch = torch.arange(n)[:, None, None, None]
    channel = torch.arange(x.shape[1])[None, :, None, None]
    return padded[batch, channel, rows, cols]


def evaluate(model, x, y, batch_size=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            correct += (model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
    model.train()
    return correct / len(x)


def run_one(data, method, seed, args):
    torch.manual_seed(seed)
    base = ConvNet()
    twin = ConvNet() if method == "tna" else None
    nets = [base] + ([twin] if twin is not None else [])
    optimizers = [
        torch.optim.SGD(n.parameters(), lr=args.learning_rate, momentum=0.9, weight_decay=5e-4)
        for n in nets
    ]
    schedulers = [
        torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=args.schedule_epochs)
        for o in optimizers
    ]
    generator = torch.Generator().manual_seed(seed)
    x, y = data["train_x"], data["train_y"]
    steps = args.max_steps or math.ceil(len(x) / args.batch_size)
    record = {
        "method": method, "seed": seed, "data_seed": seed, "status": "completed",
        "val_base_accuracy": [], "val_twin_accuracy": [], "train_loss": [],
        "train_base_accuracy": [],
    }
    started = time.time()
    for _ in range(args.train_epochs):
        order = torch.randperm(len(x), generator=generator)
        losses, correct, seen = [], 0, 0
        for step in range(steps):
            index = order[step * args.batch_size:(step + 1) * args.batch_size]
            images = augment(x[index], generator)
            labels = y[index]
            out = base(images)
            loss = F.cross_entropy(out, labels)
            if twin is not None:
                twin_out = twin(images)
                loss = loss + F.cross_entropy(twin_out, labels) + args.alpha * F.mse_loss(
                    out, twin_out, reduction="sum"
                ) / out.shape[0]
            for o in optimizers:
                o.zero_grad()
            loss.backward()
            for o in optimizers:
                o.step()
            if not math.isfinite(loss.item()):
                record["status"] = "diverged"
                break
            losses.append(loss.item())
            correct += (out.argmax(1) == labels).sum().item()
            seen += len(labels)
        if record["status"] == "diverged":
            break
        for s in schedulers:
            s.step()
        record["train_loss"].append(round(float(np.mean(losses)), 4))
        record["train_base_accuracy"].append(round(correct / seen, 4))
        record["val_base_accuracy"].append(round(evaluate(base, data["test_x"], data["test_y"]), 4))
        if twin is not None:
            record["val_twin_accuracy"].append(
                round(evaluate(twin, data["test_x"], data["test_y"]), 4)
            )
    record["wall_time_s"] = round(time.time() - started, 1)
    print(json.dumps(record), flush=True)
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", default=str(DEFAULT_FOLDER))
    parser.add_argument("--methods", default="single,tna")
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--train_epochs", type=int, default=2)
    parser.add_argument("--schedule_epochs", type=int, default=20)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--alpha", type=float, default=5e-3)
    parser.add_argument("--max_steps", type=int, default=0, help="0: the whole epoch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    arrays = load_arrays(cifar10_folder(args.folder))
    train = torch.from_numpy(arrays["train_x"]).float() / 255.0
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.std(dim=(0, 2, 3), keepdim=True)
    data = {
        "train_x": (train - mean) / std,
        "train_y": torch.from_numpy(arrays["train_y"]),
        "test_x": (torch.from_numpy(arrays["test_x"]).float() / 255.0 - mean) / std,
        "test_y": torch.from_numpy(arrays["test_y"]),
    }
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/torch_first_epochs.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    summary = {
        "command": command,
        "torch": torch.__version__,
        "train_epochs": args.train_epochs,
        "mean": [round(v, 4) for v in mean.flatten().tolist()],
        "std": [round(v, 4) for v in std.flatten().tolist()],
        "runs": [],
    }
    if output.is_file():
        # Resume: keep the runs already written (same settings), add the rest.
        previous = json.loads(output.read_text())
        if previous.get("train_epochs") != args.train_epochs:
            sys.exit(
                f"{output} holds runs of {previous.get('train_epochs')} epochs, not "
                f"{args.train_epochs}: pass another --output. Received: "
                f"--train_epochs={args.train_epochs}"
            )
        summary = previous
        summary.setdefault("resumed_with", []).append(command)
    done = {(r["method"], r["seed"]) for r in summary["runs"]}
    for seed in parse_seeds(args.seeds):
        for method in args.methods.split(","):
            if (method, seed) in done:
                print(f"{method} seed {seed}: already in {output}", flush=True)
                continue
            summary["runs"].append(run_one(data, method, seed, args))
            output.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"Wrote {output}")


if __name__ == "__main__":
    main()
