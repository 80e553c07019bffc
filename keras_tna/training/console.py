"""What a run prints: its header (method, networks, data, training, device) and last line.

`keras_tna.training.run` prints the header once the run is set up, before
the first epoch, and the summary line when it completes.
"""

import os

import tensorflow as tf


def _device_line(strategy):
    gpus = tf.config.list_logical_devices("GPU")
    tpus = tf.config.list_logical_devices("TPU")
    if tpus:
        device = f"{len(tpus)} TPU core(s)"
    elif gpus:
        device = f"{len(gpus)} GPU(s)"
    else:
        device = f"CPU ({os.cpu_count()} cores)"
    return (
        f"{device}, strategy {type(strategy).__name__} "
        f"({strategy.num_replicas_in_sync} replica(s))"
    )


def summary_line(results):
    parts = [f"base accuracy {results['base_accuracy']:.4f}"]
    if results["twin_accuracy"] is not None:
        parts.append(f"twin {results['twin_accuracy']:.4f}")
        parts.append(f"ensemble {results['ensemble_accuracy']:.4f}")
    return (
        f"Done: {results['method']} seed {results['seed']}: "
        + ", ".join(parts)
        + f" ({results['wall_time_s']:.0f} s)"
    )


def print_header(config, plan, bundle, base, twin, results, strategy):
    method = config.method_spec
    alpha = plan.alpha
    lines = [
        f"keras_tna: {config.method} ({method.description})"
        + (f", alpha={alpha:g}" if alpha is not None else "")
        + (
            f", matching from epoch {plan.matching_start_epoch}"
            if method.twin and plan.matching_start_epoch
            else ""
        )
        + f", seed {config.seed} -> {config.output_dir}",
        f"  base:      {base.name} ({results['params_base']:,} parameters)",
    ]
    if twin is not None:
        origin = (
            f", frozen, from {config.twin_checkpoint}" if method.freeze_twin else ""
        )
        lines.append(
            f"  twin:      {twin.name} ({results['params_twin']:,} parameters{origin})"
        )
    lines += [
        f"  dataset:   {bundle.name}: {bundle.num_train:,} train / "
        f"{bundle.num_test:,} test images {tuple(bundle.input_shape)}, "
        f"{bundle.num_classes} classes",
        f"  training:  {plan.epochs} epochs x {results['steps_per_epoch']} steps of "
        f"batch {plan.batch_size}, {config.optimizer} lr {config.learning_rate:g} "
        f"({config.schedule}"
        + (f", {config.warmup_epochs:g} warm-up epochs" if config.warmup_epochs else "")
        + f"), weight decay {config.weight_decay:g}"
        + (" [smoke]" if config.smoke else ""),
        f"  device:    {_device_line(strategy)}, precision "
        f"{config.mixed_precision}, jit_compile {config.jit_compile}",
    ]
    print("\n".join(lines), flush=True)
