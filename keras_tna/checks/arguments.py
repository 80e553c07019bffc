"""Checks of `TwinModel`'s arguments: networks, hyper-parameters, optimizers, loss.

Each raises `ValueError` or `TypeError` with one line naming the problem, the
fix and what was received (`Received: ...`), when the TwinModel is built or
compiled.
"""

import warnings
import weakref

import keras
import numpy as np

from keras_tna import settings

_OPTIMIZER_OWNERS = weakref.WeakKeyDictionary()


# ------------------------------------------------------------------ arguments
def check_alpha(alpha):
    """Raises unless `alpha` is a finite real number >= 0 (not a bool).

    The rule and message are `keras_tna.settings.SETTINGS["alpha"]`'s, as for
    `--alpha` and `TrainConfig.alpha`.
    """
    settings.check("alpha", alpha)


def check_temperature(temperature):
    """Raises unless `temperature` is a finite real number > 0 (the setting's rule)."""
    settings.check("temperature", temperature)


def check_bool(name, value):
    """Raises unless `value` is True or False (a string like "no" would be True)."""
    if not isinstance(value, (bool, np.bool_)) and value not in (0, 1):
        raise TypeError(
            f"`{name}` must be True or False. Received: {name}={value!r}"
        )


def check_start_epoch(value):
    """Raises unless `value` is an integer >= 0 (the setting's rule)."""
    settings.check("matching_start_epoch", value)


def check_input_shapes(base, twin):
    """Raises when `base` and `twin` take inputs of incompatible shapes."""
    shapes = [_input_shape(net) for net in (base, twin)]
    if None in shapes:
        return
    if not _compatible(shapes[0][1:], shapes[1][1:]):
        raise ValueError(
            "`base` and `twin` must take inputs of the same shape: both are fed "
            f"the same batches. Received: base input {shapes[0]}, twin input "
            f"{shapes[1]}"
        )


def check_optimizers(model, optimizer, twin_optimizer):
    """`TwinModel.compile`'s two optimizer arguments, resolved and checked.

    Args:
        model: TwinModel. The model being compiled.
        optimizer: keras.optimizers.Optimizer, str or `"default"` (Adam, lr 1e-3).
        twin_optimizer: keras.optimizers.Optimizer, str or None.

    Returns:
        (optimizer, twin_optimizer): optimizer objects (`twin_optimizer` None
        when not given), each claimed for its network of `model`.
    """
    if isinstance(optimizer, str) and optimizer == "default":
        optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    optimizer = get_optimizer(optimizer, "optimizer")
    claim_optimizer(optimizer, model, model.base, "optimizer")
    if twin_optimizer is None:
        return optimizer, None
    twin_optimizer = get_optimizer(twin_optimizer, "twin_optimizer")
    if model.freeze_twin:
        warnings.warn(
            "`twin_optimizer` is not used: the twin is frozen "
            "(freeze_twin=True). Leave it out.",
            stacklevel=3,
        )
    if twin_optimizer is optimizer:
        raise ValueError(
            "`twin_optimizer` is the same object as `optimizer`; each "
            "network needs its own optimizer state. Pass a second "
            "optimizer or None (an independent copy)."
        )
    claim_optimizer(twin_optimizer, model, model.twin, "twin_optimizer")
    return optimizer, twin_optimizer


def get_optimizer(optimizer, role):
    """`keras.optimizers.get`, with a keras_tna message for unknown names."""
    try:
        return keras.optimizers.get(optimizer)
    except (ValueError, TypeError):
        raise ValueError(
            f"`{role}` must be a keras optimizer or the name of one, e.g. "
            "'adam' or keras.optimizers.SGD(0.1, momentum=0.9). "
            f"Received: {role}={optimizer!r}"
        ) from None


def claim_optimizer(optimizer, model, network, role):
    """Raises when `optimizer` already serves another model or network.

    One optimizer object holds the state (and the variable list) of the
    network it updates, so it cannot train a second one.
    """
    owner = _OPTIMIZER_OWNERS.get(optimizer)
    owner = owner() if owner is not None else None
    if owner is not None and owner is not model:
        raise ValueError(
            f"This `{role}` object is already compiled into another TwinModel "
            f"({owner.name!r}); an optimizer holds the state of one network "
            "only. Create a new optimizer for each TwinModel. "
            f"Received: {role}={optimizer!r}"
        )
    built_for = _built_variable_ids(optimizer)
    if built_for is not None:
        mine = {id(v) for v in network.trainable_variables}
        if not network.built or built_for != mine:
            raise ValueError(
                f"This `{role}` object was already used to train another "
                "model's variables; an optimizer holds the state of one network "
                "only. Create a new optimizer for this TwinModel. "
                f"Received: {role}={optimizer!r}"
            )
    _OPTIMIZER_OWNERS[optimizer] = weakref.ref(model)


def _built_variable_ids(optimizer):
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if not getattr(inner, "built", False):
        return None
    variables = getattr(inner, "_trainable_variables", None)
    if variables is None:
        return None
    return {id(v) for v in variables}


def check_loss(loss):
    """Raises unless `loss` is a keras Loss applied to logits."""
    if not isinstance(loss, keras.losses.Loss):
        raise TypeError(
            "`loss` must be a keras.losses.Loss applied to logits, e.g. "
            "keras.losses.SparseCategoricalCrossentropy(from_logits=True). "
            f"Received: loss={loss!r}"
        )
    try:
        from_logits = loss.get_config().get("from_logits")
    except (NotImplementedError, TypeError, AttributeError):
        from_logits = None
    if from_logits is False:
        raise ValueError(
            "`loss` must take logits: the networks output logits, so pass "
            f"{type(loss).__name__}(from_logits=True). Received: loss={loss!r} "
            "with from_logits=False"
        )


def check_batch_size(batch_size):
    """Raises unless `batch_size` is None (keras' 32) or an integer >= 1."""
    if batch_size is not None:
        settings.check("batch_size", batch_size)


# ------------------------------------------------------------------- networks
def _ends_in_softmax(model):
    layers = getattr(model, "layers", None)
    if not layers:
        return False
    last = layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return True
    activation = getattr(last, "activation", None)
    return getattr(activation, "__name__", "") == "softmax"


def check_networks(base, twin):
    """Raises unless `base` and `twin` are two keras Models with separate weights.

    Warns when one ends in a softmax (TwinModel matches logits).
    """
    for role, net in (("base", base), ("twin", twin)):
        if not isinstance(net, keras.Model):
            raise TypeError(
                f"`{role}` must be a keras.Model that outputs class logits. "
                f"Received: {role}={net!r}"
            )
        if _ends_in_softmax(net):
            warnings.warn(
                f"The {role} network {net.name!r} ends in a softmax; TwinModel "
                "expects logits (TNA matches logits, and the cross-entropy is "
                "applied from logits). Remove the final softmax; for a "
                "keras.applications model pass classifier_activation=None.",
                stacklevel=3,
            )
    if twin is base:
        raise ValueError(
            "`twin` is the same object as `base`; TNA needs two networks with "
            "separate weights. Build a second network, e.g. "
            "keras_tna.make_twin(base)."
        )
    base_ids = {id(v) for v in base.weights}
    if any(id(v) in base_ids for v in twin.weights):
        raise ValueError(
            "`twin` shares weights with `base`; TNA needs two networks with "
            "separate weights. Build a second network, e.g. "
            "keras_tna.make_twin(base)."
        )
    check_logit_shapes(base, twin, None)


def check_logit_shapes(base, twin, x_first):
    """Raises when `base` and `twin` output logits of different shapes.

    Unbuilt networks are called on `x_first[:1]`; with `x_first=None` they are
    not checked yet.
    """
    shapes = []
    for role, net in (("base", base), ("twin", twin)):
        try:
            outputs = list(net.outputs)
        except (AttributeError, TypeError, ValueError):
            if x_first is None:
                return
            outputs = net(x_first[:1])
        shapes.append(_check_head(role, outputs))
    if shapes[0] != shapes[1]:
        raise ValueError(
            "`base` and `twin` must output logits of the same shape. "
            f"Received: base logits {shapes[0]}, twin logits {shapes[1]}"
        )


def _check_head(role, outputs):
    """The shape of a network's one logits output, or a one-line error."""
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    if isinstance(outputs, (list, tuple)):
        if len(outputs) != 1:
            raise ValueError(
                f"TwinModel trains classifiers with one output, the class logits "
                f"(batch, classes); the {role} network has {len(outputs)} outputs. "
                f"Pass a model that returns the logits only, e.g. "
                f"keras.Model({role}.inputs, {role}.outputs[0]). Received: {role} "
                f"outputs of shapes {[tuple(o.shape) for o in outputs]}"
            )
        outputs = outputs[0]
    shape = tuple(outputs.shape[1:])
    if len(shape) != 1:
        raise ValueError(
            f"TwinModel needs logits of shape (batch, classes), one row per "
            f"example; end the {role} network in a Dense(num_classes) layer "
            f"(pooling or flattening first). Received: {role} logits of shape "
            f"{(None,) + shape}"
        )
    if shape[0] == 1:
        raise ValueError(
            f"TwinModel trains classifiers with one logit per class (>= 2); the "
            f"{role} network has a single output unit (a regression head or a "
            "binary sigmoid logit). For two classes use Dense(2) with labels "
            "0/1; regression is not supported. Received: "
            f"{role} logits of shape {(None,) + shape}"
        )
    return shape


# ------------------------------------------------------------------ helpers
def _input_shape(net):
    try:
        inputs = net.inputs
        if len(inputs) != 1:
            return None
        return tuple(inputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def _compatible(got, want):
    return len(got) == len(want) and all(
        g is None or w is None or g == w for g, w in zip(got, want)
    )
