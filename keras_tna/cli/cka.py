r"""Linear CKA between the networks of training runs (the paper's Table 5).

Forms Table 5's pairs from the runs given (Single vs Single and TNA vs Single
across different seeds, Base vs Twin within each TNA run, DML A vs DML B
within each DML run), computes minibatch linear CKA (unbiased HSIC, Nguyen et
al. 2021) between every block of the two networks over the test set, and
prints mean +- std per block; writes cka.md, cka.json, cka_heatmaps.png
(block x block) and cka_blocks.png (per-block lines).

    python apps/cka.py --runs=runs/table1/convnet_cifar10 --output_dir=docs/analysis/cka
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_tna import tf_logs  # noqa: E402

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

from keras_tna.cli import analysis_flags  # noqa: E402  (defines the shared flags)
from keras_tna.runs import store  # noqa: E402
from keras_tna import formatting  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_boolean("include_logits", True, "Also compare the logits (the FC row).")


def run_cka():
    runs, skipped = store.find_runs(FLAGS.runs)
    tf_logs.quiet_tensorflow_start()  # TensorFlow's start-up notices dropped, then:
    from keras_tna.analysis import cka, common, plots, run_data  # TensorFlow: after the checks (fast --help)
    run_data.check_same_dataset(runs)
    pairs = cka.table5_pairs(runs)
    if not pairs:
        raise ValueError(
            "No pairs to compare: give two single runs with different seeds, a "
            "TNA run and a single run of different seeds, or a TNA/DML run "
            f"with a twin.keras. Received runs: {[str(r.path) for r in runs]}"
        )
    bundle = run_data.load_run_dataset(runs[0], FLAGS.batch_size, FLAGS.data_dir)
    images, labels = run_data.load_run_test_set(runs[0], FLAGS.max_examples, FLAGS.data_dir)
    test = run_data.NormalizedBatches(images, labels, bundle.normalize, FLAGS.batch_size)
    networks = {}

    def network(run, which):
        key = (run.path, which)
        if key not in networks:
            model = run.load_base() if which == "base" else run.load_twin()
            run_data.check_network_fits(model, bundle, f"{run.path}/{which}.keras")
            networks[key] = model
        return networks[key]

    matrices, per_pair = {}, {}
    names = None
    num_examples = None
    for kind, kind_pairs in pairs.items():
        stack = []
        for label, (run_a, which_a), (run_b, which_b) in kind_pairs:
            result = cka.compare_networks(
                network(run_a, which_a),
                network(run_b, which_b),
                test,
                FLAGS.layers,
                FLAGS.layers,
                include_logits=FLAGS.include_logits,
            )
            print(f"{kind:17s} {label}: " + ", ".join(
                f"{common.block_label(n)} {v:.3f}" for n, v in result.diagonal().items()), flush=True)
            if names is None:
                names = result.names_a
            if result.names_a != names or result.names_b != names:
                raise ValueError(
                    f"The networks of {label} have layers {result.names_a} / "
                    f"{result.names_b}, others {names}; compare networks of one "
                    "architecture (or pass --layers)."
                )
            num_examples = result.num_examples
            stack.append(result.matrix)
            per_pair.setdefault(kind, []).append({"pair": label, "matrix": result.matrix.tolist()})
        matrices[kind] = (np.mean(stack, axis=0), names, names)
    diagonals = {
        kind: {n: [p["matrix"][i][i] for p in per_pair[kind]] for i, n in enumerate(names)}
        for kind in matrices
    }
    table = common.block_table(
        names, matrices, lambda k, n: formatting.format_mean_std(diagonals[k][n])
    )
    dataset = common.dataset_label(runs[0])
    title = f"Linear CKA per block, {dataset} test set, {num_examples} images"
    markdown = (
        analysis_flags.report_head(title, runs, skipped)
        + f"{table}\n\n"
        "Mean ± sample std (ddof=1) over the pairs of each kind (n pairs). Minibatch "
        f"linear CKA (unbiased HSIC_1 averaged over batches of {FLAGS.batch_size}, "
        "Nguyen et al. 2021) between the same block of the two networks; FC is the "
        "logits. Single vs Single and TNA vs Single pair runs of different seeds only; "
        "Base vs Twin and DML A vs DML B pair the two networks of one run.\n\n"
        + (
            "nan: a layer's output is constant over the evaluation set in some pair "
            "(e.g. dead ReLUs), where CKA is undefined.\n\n"
            if any(np.isnan(m[0]).any() for m in matrices.values())
            else ""
        )
        +
        "![block x block CKA](cka_heatmaps.png)\n\n![CKA per block](cka_blocks.png)\n"
    )
    print()
    print(table)
    out = FLAGS.output_dir
    md, js = analysis_flags.write_outputs(
        out, "cka", markdown,
        {"dataset": bundle.name, "num_examples": num_examples, "layers": names,
         "pairs": per_pair, "command": analysis_flags.command_line()},
    )
    plots.plot_cka_heatmaps(matrices, os.path.join(out, "cka_heatmaps.png"),
                            title=f"Mean linear CKA, every block of A x every block of B ({dataset})")
    plots.plot_lines(diagonals, names, os.path.join(out, "cka_blocks.png"), "linear CKA",
                     title=f"CKA between the same blocks ({dataset})")
    print(f"Wrote {md}, {js}, cka_heatmaps.png, cka_blocks.png in {out}")


main, run = analysis_flags.program("cka.py", run_cka)
