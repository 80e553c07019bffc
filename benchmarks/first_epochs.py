r"""The first epochs of many seeds: how often does a run diverge or stall?

Trains the first `--train_epochs` epochs of a flagfile's recipe (by default the
20-epoch Table 1 ConvNet / CIFAR-10 row: the learning-rate schedule is the
20-epoch one, only cut short) for every seed and method, through
`keras_tna.training.train`, and records per run: the status (the divergence
guard marks NaN/inf losses), the validation accuracy of base and twin after
each epoch, and the training loss. `--pairs` runs (weight seed, data seed)
pairs instead, to tell a slow initialisation from a slow data order.

    nice python benchmarks/first_epochs.py --seeds=0-9 --methods=single,tna \
        --train_epochs=2 --output=docs/results/divergence/keras_first_epochs.json
    nice python benchmarks/first_epochs.py --methods=single --train_epochs=1 \
        --pairs=0:0,0:3,3:0,3:3,1:1,1:4,4:1,2:2,2:5,5:2 \
        --output=docs/results/divergence/keras_init_vs_data.json

Runs go under `--runs_dir` (resumable: a finished run is read back, not
retrained); the summary JSON is rewritten after every run.
"""

import argparse
import json
import pathlib
import sys
import time

import keras
from seed_lists import parse_seeds

REPO = pathlib.Path(__file__).resolve().parents[1]


class StopAfter(keras.callbacks.Callback):
    """Stops training after `epochs` epochs (the schedule stays the long one)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= self.epochs:
            self.model.stop_training = True


def run_one(base_config, method, seed, data_seed, train_epochs, runs_dir):
    from keras_tna import reporting
    from keras_tna import training

    name = f"{method}/seed_{seed}" + (f"_data_{data_seed}" if data_seed is not None else "")
    config = base_config.replace(
        method=method,
        seed=seed,
        data_seed=data_seed,
        output_dir=str(runs_dir / name),
        verbose=2,
    )
    started = time.time()
    results = training.train(config, callbacks=[StopAfter(train_epochs)])
    history = reporting.read_history(config.output_dir)

    def column(key):
        values = history.get(key)
        return [] if values is None else [round(float(v), 4) for v in values]

    return {
        "method": method,
        "seed": seed,
        "data_seed": seed if data_seed is None else data_seed,
        "status": results["status"],
        "val_base_accuracy": column("val_base_accuracy"),
        "val_twin_accuracy": column("val_twin_accuracy"),
        "train_loss": column("loss"),
        "train_base_accuracy": column("base_accuracy"),
        "wall_time_s": round(time.time() - started, 1),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--flagfile", default="configs/evidence/convnet_cifar10_20ep.flags",
        help="The recipe (a flagfile of apps/train.py).",
    )
    parser.add_argument("--methods", default="single,tna")
    parser.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,3,7")
    parser.add_argument(
        "--pairs", default=None,
        help="weight_seed:data_seed pairs, e.g. 0:3,3:0 (instead of --seeds)",
    )
    parser.add_argument("--train_epochs", type=int, default=2)
    parser.add_argument("--runs_dir", default="runs/first_epochs")
    parser.add_argument("--output", required=True, help="Summary JSON to write.")
    parser.add_argument("--smoke", action="store_true", help="2 steps an epoch (tests).")
    args = parser.parse_args(argv)

    from keras_tna import training
    from keras_tna.runs import config as run_config
    from keras_tna.runs import layout

    flags = layout.read_flagfile(REPO / args.flagfile)
    nested = flags.pop("flagfile", None)
    if nested:
        flags = {**layout.read_flagfile(REPO / nested), **flags}
    for name in ("methods", "seeds", "alphas", "matching_start_epochs", "output_dir"):
        flags.pop(name, None)
    base_config = training.TrainConfig(**run_config.config_kwargs_from_flags(flags))
    base_config = base_config.replace(smoke=args.smoke)
    if args.pairs:
        runs = [tuple(int(v) for v in p.split(":")) for p in args.pairs.split(",")]
    else:
        runs = [(s, None) for s in parse_seeds(args.seeds)]
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "command": "python benchmarks/first_epochs.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "flagfile": args.flagfile,
        "train_epochs": args.train_epochs,
        "runs": [],
    }
    for seed, data_seed in runs:
        for method in args.methods.split(","):
            summary["runs"].append(
                run_one(
                    base_config, method, seed, data_seed, args.train_epochs,
                    pathlib.Path(args.runs_dir),
                )
            )
            output.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"Wrote {output}")


if __name__ == "__main__":
    main()
