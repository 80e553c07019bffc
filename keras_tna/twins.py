"""Building twins: copies of a base network with chosen layers re-initialised."""

import keras

from keras_tna.initializers import seed_scope


def make_twin(base, reinit="all", seed=None, name=None):
    """Returns a twin of `base`: same architecture, chosen layers re-initialised.

    `reinit="all"` gives an independently initialised copy (the paper's
    default twin). A list of layer names gives the progressive
    re-initialisation test of sec. 4.2: the twin starts with the base's
    weights except in the listed layers, which are drawn afresh.

    Initializer seeds in the layers' configs are cleared and the clone is built
    inside `seed_scope(seed)`, so every initializer (sub-layers included, e.g.
    the query, key and value projections of attention) draws its own seed from
    `seed`: a seeded base still gets a different twin, and equal seeds give
    equal twins.

    Args:
        base: keras.Model. A functional or sequential keras model.
        reinit: str or list of str. `"all"`, or the names of the layers to
            re-initialise (layers with weights; every other weight is copied
            from `base`).
        seed: int or None. Seed for the re-initialised weights; `None` gives
            a different twin on every call.
        name: str or None. Name of the twin; defaults to `base.name + "_twin"`.

    Returns:
        A new keras.Model with its own weights.

    Examples:

    >>> import keras, numpy as np
    >>> base = keras.Sequential([keras.Input((4,)),
    ...     keras.layers.Dense(8, name="hidden"), keras.layers.Dense(3, name="out")])
    >>> twin = make_twin(base, reinit=["out"], seed=1)
    >>> bool(np.array_equal(twin.get_layer("hidden").get_weights()[0],
    ...                     base.get_layer("hidden").get_weights()[0]))
    True
    >>> bool(np.array_equal(twin.get_layer("out").get_weights()[0],
    ...                     base.get_layer("out").get_weights()[0]))
    False
    """
    if not isinstance(base, keras.Model):
        raise TypeError(f"`base` must be a keras.Model. Received: base={base!r}")
    layer_names = [layer.name for layer in base.layers]
    if reinit == "all":
        targets = set(layer_names)
    elif isinstance(reinit, str):
        raise ValueError(
            "`reinit` must be 'all' or a list of layer names. "
            f"Received: reinit={reinit!r}"
        )
    else:
        targets = set(reinit)
        with_weights = [layer.name for layer in base.layers if layer.weights]
        unknown = [name for name in reinit if name not in with_weights]
        if unknown:
            raise ValueError(
                f"`reinit` (a run's --twin_reinit) names layers that {base.name!r} "
                f"does not have, or that have no weights: {unknown}. Its layers "
                f"with weights are {with_weights}. Received: reinit={list(reinit)!r}"
            )

    def clone_layer(layer):
        config = layer.get_config()
        _clear_seeds(config)
        return layer.__class__.from_config(config)

    with seed_scope(seed):
        twin = keras.models.clone_model(base, clone_function=clone_layer)
    twin.name = name or f"{base.name}_twin"
    for layer in base.layers:
        if layer.name not in targets:
            twin.get_layer(layer.name).set_weights(layer.get_weights())
    return twin


def _clear_seeds(config):
    """Clears the seed of every initializer in a layer config, in place."""
    for key, value in config.items():
        if key.endswith("_initializer") and isinstance(value, dict):
            inner = value.get("config") or {}
            if "seed" in inner:  # random initializers only (not Zeros, Ones...)
                inner["seed"] = None
