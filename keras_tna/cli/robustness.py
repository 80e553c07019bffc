r"""Corruption robustness of trained networks (the paper's Table 6).

Evaluates each run's base network on the 15 common corruptions x 5
severities (Hendrycks & Dietterich 2019) and prints, per corruption, the
accuracy averaged over severities, one column per training method (mean +-
std over seeds), then the average over corruptions, the clean accuracy
("None"), the mean corruption error normalised by the Single baseline and the
unnormalised mean error. Writes robustness.md, robustness.json and
robustness.png.

Sources of corrupted images (--source):
  generated  corrupt the run's own test set on the fly (imagecorruptions-imaug,
             ImageNet-C severities), seeded and cached; labelled "generated".
  tfds       TFDS cifar10_corrupted (released CIFAR-10-C), prepared in --data_dir.
  cifar_c    a released CIFAR-10-C/CIFAR-100-C folder (--corruptions_dir).
  image_c    a released TinyImageNet-C/ImageNet-C folder (--corruptions_dir).

    python apps/robustness.py --runs=runs/table1/convnet_cifar10 \
        --source=generated --output_dir=docs/analysis/robustness
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_tna import tf_logs  # noqa: E402

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

from keras_tna.cli import analysis_flags  # noqa: E402  (defines the shared flags)
from keras_tna.analysis import corruption_catalog as catalog  # noqa: E402
from keras_tna.analysis import corruption_sources as sources  # noqa: E402
from keras_tna.runs import store  # noqa: E402
from keras_tna import formatting  # noqa: E402
from keras_tna import methods as tna_methods  # noqa: E402

FLAGS = flags.FLAGS
SOURCES = ("generated", "tfds", "cifar_c", "image_c")
flags.DEFINE_enum("source", "generated", SOURCES, "Where the corrupted images come from.")
flags.DEFINE_string(
    "corruptions_dir", None, "The released folder for --source=cifar_c or image_c."
)
flags.DEFINE_list(
    "corruptions",
    list(catalog.COMMON_CORRUPTIONS),
    "Corruptions to evaluate (Hendrycks & Dietterich's or TFDS's names); "
    "default: the 15 common ones. Averages and mCE use the common ones only.",
)
flags.DEFINE_list("severities", ["1", "2", "3", "4", "5"], "Severities (1-5).")
flags.DEFINE_string(
    "cache_dir",
    os.path.join(os.path.expanduser("~"), ".cache", "keras_tna", "corruptions"),
    "Cache of generated corruptions (--source=generated); empty: no cache.",
)
flags.DEFINE_integer(
    "num_workers", None, "Processes generating corruptions; default: the CPUs (max 8).",
    lower_bound=1,
)
flags.DEFINE_integer("seed", 0, "Seed of the generated corruptions.")


def make_source(run, bundle, clean_images, clean_labels):
    kind = FLAGS.source
    if kind in ("cifar_c", "image_c") and not FLAGS.corruptions_dir:
        raise ValueError(f"--source={kind} needs --corruptions_dir=<the released folder>.")
    if kind == "generated":
        return sources.GeneratedCorruptions(
            clean_images,
            clean_labels,
            run.dataset if not run.image_size else f"{run.dataset}@{run.image_size}",
            seed=FLAGS.seed,
            cache_dir=FLAGS.cache_dir or None,
            num_workers=FLAGS.num_workers,
            class_names=bundle.class_names,
        )
    if kind == "tfds":
        return sources.TFDSCorruptions(FLAGS.data_dir or run.data_dir, FLAGS.max_examples)
    if kind == "cifar_c":
        return sources.ArrayFolderCorruptions(FLAGS.corruptions_dir, max_examples=FLAGS.max_examples)
    return sources.ImageFolderCorruptions(
        FLAGS.corruptions_dir, bundle.class_names, run.image_size, FLAGS.max_examples
    )


def run_robustness():
    severities = []
    for s in FLAGS.severities:
        if not s.isdigit() or int(s) not in catalog.SEVERITIES:
            raise ValueError(f"--severities takes integers 1-5. Received: {FLAGS.severities}")
        severities.append(int(s))
    names = [catalog.get_corruption(c).name for c in FLAGS.corruptions]
    runs, skipped = store.find_runs(FLAGS.runs)
    tf_logs.quiet_tensorflow_start()  # TensorFlow's start-up notices dropped, then:
    from keras_tna.analysis import run_data  # TensorFlow: after the checks (fast --help)
    run_data.check_same_dataset(runs)
    bundle = run_data.load_run_dataset(runs[0], FLAGS.batch_size, FLAGS.data_dir)
    clean_images, clean_labels = run_data.load_run_test_set(
        runs[0], FLAGS.max_examples, FLAGS.data_dir
    )
    source = make_source(runs[0], bundle, clean_images, clean_labels)
    try:
        results = evaluate_runs(runs, source, bundle, names, severities, clean_images, clean_labels)
    finally:
        source.close()
    report(runs, skipped, source, bundle, names, severities, clean_labels, results)


def evaluate_runs(runs, source, bundle, names, severities, clean_images, clean_labels):
    from keras_tna.analysis import corruptions as corr, run_data  # TensorFlow: after the checks (fast --help)

    results = {}
    for run in runs:
        model = run.load_base()
        run_data.check_network_fits(model, bundle, str(run.base_path))
        result = corr.evaluate_corruptions(
            model, source, bundle.normalize, names, severities,
            clean=(clean_images, clean_labels), batch_size=FLAGS.batch_size,
            class_names=bundle.class_names,
        )
        label = tna_methods.label(run.method)
        results.setdefault(label, []).append((run, result))
        print(f"{label} seed {run.seed}: clean {100 * result.clean['accuracy']:.2f}%, "
              f"mean over corruptions {100 * result.mean(names):.2f}%", flush=True)
    return results


def report(runs, skipped, source, bundle, names, severities, clean_labels, results):
    from keras_tna.analysis import common, corruptions as corr, plots  # TensorFlow: after the checks (fast --help)

    common_names = [c for c in names if c in catalog.COMMON_CORRUPTIONS]
    methods = list(results)
    per = {
        m: {c: [r.per_corruption()[c] for _, r in results[m]] for c in names} for m in methods
    }
    for m in methods:
        if common_names:
            per[m]["average"] = [r.mean(common_names) for _, r in results[m]]
        per[m]["clean"] = [r.clean["accuracy"] for _, r in results[m]]

    def cell(values):
        return formatting.format_mean_std(values, 2, 100, "%")

    rows = [[catalog.CORRUPTIONS[c].title] + [cell(per[m][c]) for m in methods] for c in names]
    if common_names:
        rows.append([f"**Average** ({len(common_names)} common)"] + [cell(per[m]["average"]) for m in methods])
    rows.append(["**None** (clean)"] + [cell(per[m]["clean"]) for m in methods])
    # Errors per (corruption, severity), averaged over each method's seeds.
    errors = {}
    for m in methods:
        keys = [(c, s) for c in common_names for s in severities]
        errors[m] = {k: float(np.mean([r.errors()[k] for _, r in results[m]])) for k in keys}
    baseline = "Single" if "Single" in methods else None
    if common_names:
        rows.append(["Mean corruption error, unnormalised"] + [
            f"{100 * np.mean(list(corr.corruption_errors(errors[m]).values())):.2f}%" for m in methods
        ])
        if baseline:
            rows.append([f"mCE, normalised by {baseline} (%)"] + [
                f"{100 * np.mean(list(corr.corruption_errors(errors[m], errors[baseline]).values())):.2f}"
                for m in methods
            ])
    table = formatting.markdown_table(["Corruption"] + methods, rows)
    dataset = common.dataset_label(runs[0])
    n_images = len(clean_labels)
    kind_note = (
        f"**Generated corruptions** ({source.description}): ImageNet-C's severity "
        "parameters applied to this test set; not comparable with numbers on the released "
        "CIFAR-10-C / TinyImageNet-C."
        if source.kind == catalog.GENERATED
        else f"Released corruptions: {source.description}."
    )
    markdown = (
        analysis_flags.report_head(f"Corruption robustness, {dataset}", runs, skipped)
        + f"{kind_note}\n\n"
        f"{table}\n\n"
        f"Top-1 accuracy of the base networks on {n_images} test images per variant, "
        f"averaged over severities {severities} per corruption; mean ± sample std "
        "(ddof=1) over seeds (n runs). Average: mean over the common corruptions "
        "evaluated. Corruption error CE_c = sum over severities of the error; "
        + (
            f"the mCE row normalises each method's CE_c by {baseline}'s (Hendrycks & "
            "Dietterich normalise by AlexNet, whose errors do not exist for these "
            "datasets), x 100, averaged over corruptions: Single is 100 by construction, "
            "below 100 is more robust. "
            if baseline
            else ""
        )
        + "The unnormalised row is the mean error over corruptions and severities. "
        "Errors are averaged over seeds before the ratio.\n\n"
        "![accuracy per corruption](robustness.png)\n"
    )
    print()
    print(kind_note)
    print(table)
    out = FLAGS.output_dir
    raw = {
        m: [{"run": analysis_flags.shown(run.path), "seed": run.seed, "clean": r.clean["accuracy"],
             "scores": {f"{c}_{s}": v["accuracy"] for (c, s), v in r.scores.items()}}
            for run, r in results[m]]
        for m in methods
    }
    md, js = analysis_flags.write_outputs(
        out, "robustness", markdown,
        {"dataset": bundle.name, "source": source.description, "kind": source.kind,
         "num_examples": n_images, "severities": severities, "results": raw,
         "command": analysis_flags.command_line()},
    )
    bars = names + (["average"] if common_names else []) + ["clean"]
    titles = {c: catalog.CORRUPTIONS[c].title for c in names}
    titles.update({"average": "Average", "clean": "None (clean)"})
    plots.plot_corruptions(
        per, bars, titles, os.path.join(out, "robustness.png"),
        title=f"Accuracy under corruptions, {dataset} ({source.kind}), mean over severities",
    )
    print(f"Wrote {md}, {js}, robustness.png in {out}")


main, run = analysis_flags.program("robustness.py", run_robustness)
