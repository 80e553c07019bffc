r"""Linear probes at every block of trained networks (the paper's Fig. 2, appendix A.3).

For each run's base network: freeze it, average-pool each block output per
channel, train a linear classifier on those features (SGD, lr 0.01, 10 epochs,
the full training set, features computed once and cached) and report its
test accuracy. Prints accuracy per block for each training method (mean +-
std over seeds) and writes probes.md, probes.json and probes.png (blocks on
x, accuracy on y, one line per method).

    python apps/probes.py --runs=runs/table1/convnet_cifar10 --output_dir=docs/analysis/probes
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_tna import tf_logs  # noqa: E402

from absl import flags  # noqa: E402

from keras_tna.cli import analysis_flags  # noqa: E402  (defines the shared flags)
from keras_tna.runs import store  # noqa: E402
from keras_tna import formatting  # noqa: E402
from keras_tna import methods  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", 10, "Probe training epochs (paper: 10).", lower_bound=1)
flags.DEFINE_float("learning_rate", 0.01, "Probe SGD learning rate (paper: 0.01).", lower_bound=0)
flags.DEFINE_float("momentum", 0.9, "Probe SGD momentum (not stated in the paper).", lower_bound=0)
flags.DEFINE_integer("probe_batch_size", 128, "Probe SGD minibatch size.", lower_bound=1)
flags.DEFINE_integer(
    "max_train_examples",
    None,
    "Train the probes on this many training images only (a seeded random "
    "subset); default: the full training set, as in the paper.",
    lower_bound=1,
)
flags.DEFINE_boolean("include_logits", False, "Also probe the logits.")
flags.DEFINE_boolean("standardize", False, "Standardise features first (not in the paper).")
flags.DEFINE_integer("seed", 0, "Seeds the probes' initialisation and batch order.")


def run_probes():
    runs, skipped = store.find_runs(FLAGS.runs)
    tf_logs.quiet_tensorflow_start()  # TensorFlow's start-up notices dropped, then:
    from keras_tna.analysis import common, plots, probes, run_data  # TensorFlow: after the checks (fast --help)
    run_data.check_same_dataset(runs)
    bundle = run_data.load_run_dataset(runs[0], FLAGS.batch_size, FLAGS.data_dir)
    if bundle.train is None:
        raise ValueError(f"{bundle.name!r} has no training split to train probes on.")
    # load(..., augment=False): the training split is shuffled with seed 0,
    # not augmented, so a subset is a fixed random sample.
    train = run_data.take_examples(bundle.train, FLAGS.max_train_examples, FLAGS.batch_size)
    images, labels = run_data.load_run_test_set(runs[0], FLAGS.max_examples, FLAGS.data_dir)
    test = run_data.NormalizedBatches(images, labels, bundle.normalize, FLAGS.batch_size)
    values = {}
    names = None
    sizes = None
    diverged = []
    for run in runs:
        model = run.load_base()
        run_data.check_network_fits(model, bundle, str(run.base_path))
        result = probes.linear_probes(
            model,
            train,
            test,
            FLAGS.layers,
            include_logits=FLAGS.include_logits,
            epochs=FLAGS.epochs,
            learning_rate=FLAGS.learning_rate,
            momentum=FLAGS.momentum,
            batch_size=FLAGS.probe_batch_size,
            standardize=FLAGS.standardize,
            seed=FLAGS.seed,
            feature_batch_size=FLAGS.batch_size,
        )
        if names is None:
            names = result.names
        elif result.names != names:
            raise ValueError(
                f"{run.path} has layers {result.names}, other runs {names}; probe "
                "networks of one architecture at a time (or pass --layers)."
            )
        sizes = (result.num_train, result.num_val)
        if result.diverged:
            diverged.append(f"{run.path}: {', '.join(result.diverged)}")
        label = methods.label(run.method)
        for n in names:
            values.setdefault(label, {}).setdefault(n, []).append(result.val_accuracy[n])
        print(f"{label} seed {run.seed}: " + ", ".join(
            f"{common.block_label(n)} {100 * result.val_accuracy[n]:.2f}%" for n in names), flush=True)
    table = common.block_table(
        names, values, lambda m, n: formatting.format_mean_std(values[m][n], 2, 100, "%")
    )
    dataset = common.dataset_label(runs[0])
    title = f"Linear probe test accuracy per block, {dataset}"
    markdown = (
        analysis_flags.report_head(title, runs, skipped)
        + f"{table}\n\n"
        f"Base networks, frozen; each block output averaged per channel; a linear "
        f"probe trained with SGD (lr {FLAGS.learning_rate:g}, momentum {FLAGS.momentum:g}, "
        f"batch {FLAGS.probe_batch_size}, {FLAGS.epochs} epochs) on {sizes[0]} training "
        f"images, accuracy on {sizes[1]} test images. Mean ± sample std (ddof=1) over "
        "seeds (n runs)."
        + (" Features standardised." if FLAGS.standardize else "")
        + (
            "\n\nProbes that diverged (non-finite weights: features too large for "
            "the learning rate; try --standardize or a smaller --learning_rate), "
            "their accuracies are meaningless: " + "; ".join(diverged)
            if diverged
            else ""
        )
        + "\n\n![probe accuracy per block](probes.png)\n"
    )
    print()
    print(table)
    if diverged:
        print("Diverged probes (meaningless accuracies): " + "; ".join(diverged))
    out = FLAGS.output_dir
    md, js = analysis_flags.write_outputs(
        out, "probes", markdown,
        {"dataset": bundle.name, "num_train": sizes[0], "num_test": sizes[1], "layers": names,
         "accuracy": values, "diverged": diverged, "command": analysis_flags.command_line()},
    )
    plots.plot_lines(values, names, os.path.join(out, "probes.png"), "probe test accuracy (%)",
                     title=title, percent=True)
    print(f"Wrote {md}, {js}, probes.png in {out}")


main, run = analysis_flags.program("probes.py", run_probes)
