"""`sweep`: the runs of methods x seeds [x alphas] [x late-matching starts]."""

import os

import keras

from keras_tna import methods as tna_methods
from keras_tna.training import resume
from keras_tna.training.run import train


def run_name(method, alpha=None, matching_start_epoch=None):
    """The sub-directory name of one variant of a sweep.

    Examples:

    >>> run_name("tna", alpha=0.05, matching_start_epoch=50)
    'tna_alpha0.05_start50'
    """
    name = method
    if alpha is not None:
        name += f"_alpha{alpha:g}"
    if matching_start_epoch is not None:
        name += f"_start{matching_start_epoch}"
    return name


def sweep_configs(config, methods, seeds, alphas=None, matching_start_epochs=None):
    """Expands a configuration into the runs of a sweep.

    Every method runs with every seed; `alphas` and `matching_start_epochs`
    apply to the methods that read them (a `"single"` run is never repeated
    per alpha). Run `r` of seed `s` goes to `<output_dir>/<r>/seed_<s>`, with
    `r` from `run_name`. The runs are ordered seed by seed.

    Args:
        config: `TrainConfig`. The shared settings.
        methods: list of str. Method names.
        seeds: list of int. Seeds.
        alphas: list of float or None. Values of `alpha` (TNA, frozen twin).
        matching_start_epochs: list of int or None. Late-matching starts.

    Returns:
        list of `TrainConfig`, one per run.
    """
    if not methods or not seeds:
        raise ValueError(
            "A sweep needs at least one method and one seed. Received: "
            f"methods={methods!r}, seeds={seeds!r}"
        )
    for method in methods:
        tna_methods.get(method)
    variants = []
    for method in methods:
        spec = tna_methods.get(method)
        method_alphas = alphas if alphas and "alpha" in spec.uses else [None]
        starts = (
            matching_start_epochs
            if matching_start_epochs and "matching_start_epoch" in spec.uses
            else [None]
        )
        variants += [(method, a, k) for a in method_alphas for k in starts]
    configs = []
    # Seeds outermost: a sweep cut short still holds complete comparisons.
    for seed in seeds:
        for method, alpha, start in variants:
            changes = {
                "method": method,
                "seed": int(seed),
                "output_dir": os.path.join(
                    config.output_dir, run_name(method, alpha, start), f"seed_{seed}"
                ),
            }
            if alpha is not None:
                changes["alpha"] = float(alpha)
            if start is not None:
                changes["matching_start_epoch"] = int(start)
            configs.append(config.replace(**changes))
    return configs


def sweep(config, methods, seeds, alphas=None, matching_start_epochs=None):
    """Trains every run of a sweep (see `sweep_configs`), one after another.

    Finished runs are reused, interrupted ones resumed. Every configuration is
    validated, and every output directory checked, before the first run
    starts.

    Args:
        config: `TrainConfig`. The shared settings.
        methods: list of str. Method names.
        seeds: list of int. Seeds.
        alphas: list of float or None. Values of `alpha`.
        matching_start_epochs: list of int or None. Late-matching starts.

    Returns:
        list of dict: each run's results.

    Examples:

    ```python
    results = sweep(TrainConfig(dataset="digits", image_size=32, epochs=10,
                                output_dir="runs/quickstart"),
                    methods=["single", "tna"], seeds=[0, 1, 2])
    ```
    """
    configs = sweep_configs(config, methods, seeds, alphas, matching_start_epochs)
    for run_config in configs:
        run_config.validate()
        if not run_config.overwrite:
            resume.check_run_dir(run_config)
    results = []
    for index, run_config in enumerate(configs):
        print(
            f"\n=== run {index + 1}/{len(configs)}: {run_config.output_dir}",
            flush=True,
        )
        results.append(train(run_config))
        keras.backend.clear_session()
    return results
