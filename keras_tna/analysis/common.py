"""What the three analyses share: features, batches, evaluators, table labels.

A network's block outputs are exposed by `feature_model`, data is walked batch
by batch by `iterate_batches`, and an `Evaluator` turns `(model, data)` into a
dict of numbers. The runs' own data (one dataset, its test set, normalised
batches) is `keras_tna.analysis.run_data`'s. Runs and networks are read by
`keras_tna.runs.store` (`read_run`, `find_runs`, `load_network`), tables
written by `keras_tna.formatting`.
"""

import pathlib
import re

import keras
import numpy as np

from keras_tna import models
from keras_tna.formatting import markdown_table
from keras_tna.runs.store import check_model

LOGITS = "logits"


def _layer_names(model):
    return [layer.name for layer in model.layers]


def resolve_layer_names(model, layer_names=None):
    """Returns the layers to analyse: `layer_names`, or the model's blocks.

    Args:
        model: keras.Model. A functional or Sequential model.
        layer_names: list of str or None. Layer names to read; `None` asks
            `keras_tna.models.block_names(model)` for the residual-block (or
            stage) outputs of the package's networks.

    Returns:
        A list of layer names, in the order given (or depth order).

    Raises:
        ValueError: a name is not a layer of `model`, or `layer_names` is
            `None` and `model` has no blocks that `keras_tna.models` knows.

    Examples:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((4,)),
    ...     keras.layers.Dense(8, name="hidden"), keras.layers.Dense(3, name="out")])
    >>> resolve_layer_names(model, ["hidden"])
    ['hidden']
    """
    check_model(model)
    available = _layer_names(model)
    if layer_names is None:
        names = []
        reason = ""
        try:
            names = list(models.block_names(model))
        except (ImportError, AttributeError) as error:
            reason = f" (keras_tna.models.block_names is unavailable: {error})"
        except ValueError as error:
            reason = f" ({error})"
        if not names:
            raise ValueError(
                f"Model {model.name!r} has no blocks that keras_tna.models knows"
                f"{reason}; pass the layers to analyse explicitly (e.g. "
                "`layer_names=[...]`, or `--layers=...` in the apps). "
                f"Available layers: {available}"
            )
        return names
    if isinstance(layer_names, str):
        raise TypeError(
            "`layer_names` must be a list of layer names, not a string. "
            f"Received: layer_names={layer_names!r}"
        )
    names = list(layer_names)
    if not names:
        raise ValueError(
            "`layer_names` is empty; give at least one layer name, or None for "
            f"the model's blocks. Available layers: {available}"
        )
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(
            f"Layers {unknown} are not in model {model.name!r}. "
            f"Available layers: {available}. Received: layer_names={names}"
        )
    return names


def feature_model(model, layer_names=None, include_logits=True, pool=False):
    """A model returning the outputs of chosen layers (and the logits).

    Args:
        model: keras.Model. A functional or Sequential model whose output is
            the logits.
        layer_names: list of str or None. Layers to read; `None` means the
            model's blocks (`keras_tna.models.block_names`).
        include_logits: bool. Append the model's output, named `"logits"`.
        pool: bool. Average each output of rank 3 or more over all axes
            but the batch and channel axes (spatial positions, or tokens),
            leaving one value per channel, as the linear probes do.

    Returns:
        A tuple `(extractor, names)`: `extractor` is a `keras.Model` with one
        output per name, `names` the list of output names. With a single name
        keras returns a bare tensor: wrap calls in `as_list`.

    Examples:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((8, 8, 3)),
    ...     keras.layers.Conv2D(4, 3, name="conv"),
    ...     keras.layers.GlobalAveragePooling2D(name="gap"),
    ...     keras.layers.Dense(2, name="logits")])
    >>> extractor, names = feature_model(model, ["conv"], pool=True)
    >>> names
    ['conv', 'logits']
    >>> [tuple(o.shape) for o in as_list(extractor(np.zeros((5, 8, 8, 3))))]
    [(5, 4), (5, 2)]
    """
    names = resolve_layer_names(model, layer_names)
    outputs = [model.get_layer(n).output for n in names]
    if include_logits:
        if len(model.outputs) != 1:
            raise ValueError(
                f"Model {model.name!r} has {len(model.outputs)} outputs; the "
                "analyses need a single logits output. Pass "
                "`include_logits=False` or a model with one output."
            )
        outputs.append(model.outputs[0])
        names = names + [LOGITS]
    if pool:
        outputs = [
            keras.ops.mean(o, axis=tuple(range(1, len(o.shape) - 1)))
            if len(o.shape) > 2
            else o
            for o in outputs
        ]
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    extractor = keras.Model(inputs, outputs, name=f"{model.name}_features")
    return extractor, names


def as_list(outputs):
    """A model's outputs as a list (keras returns a bare tensor for one output)."""
    if isinstance(outputs, (list, tuple)):
        return list(outputs)
    return [outputs]


def iterate_batches(data, batch_size=256):
    """Yields `(images, labels)` batches as numpy arrays (`labels` may be None).

    Args:
        data: a `tf.data.Dataset` of batched `(images, labels)` or `images`
            (e.g. `keras_tna.data.load(...).test`), a tuple of numpy arrays
            `(images, labels)`, a numpy array of images, or an iterable
            (e.g. a generator) of `(images, labels)` batches.
        batch_size: int. Batch size for numpy input (ignored for datasets,
            which come batched).

    Examples:

    >>> import numpy as np
    >>> batches = list(iterate_batches((np.zeros((5, 2)), np.arange(5)), 2))
    >>> [len(x) for x, _ in batches]
    [2, 2, 1]
    """
    if isinstance(data, tuple) and len(data) == 2:
        images, labels = (np.asarray(data[0]), np.asarray(data[1]))
        if len(images) != len(labels):
            raise ValueError(
                "Images and labels differ in length. Received: "
                f"{len(images)} images and {len(labels)} labels"
            )
        for start in range(0, len(images), batch_size):
            yield images[start : start + batch_size], labels[start : start + batch_size]
        return
    if isinstance(data, np.ndarray):
        for start in range(0, len(data), batch_size):
            yield data[start : start + batch_size], None
        return
    import tensorflow as tf

    if not isinstance(data, tf.data.Dataset):
        if hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
            for element in data:
                if isinstance(element, (tuple, list)) and len(element) == 2:
                    yield np.asarray(element[0]), np.asarray(element[1])
                else:
                    yield np.asarray(element), None
            return
        raise TypeError(
            "`data` must be a tf.data.Dataset of batched (images, labels), a "
            "tuple (images, labels) of numpy arrays, a numpy array of images, "
            f"or an iterable of (images, labels) batches. Received: {type(data).__name__}"
        )
    spec = data.element_spec
    for element in data.as_numpy_iterator():
        if isinstance(spec, tuple):
            if len(element) < 2:
                yield element[0], None
            else:
                yield element[0], element[1]
        elif isinstance(spec, dict):
            raise TypeError(
                "`data` yields dicts; map it to (images, labels) tuples first. "
                f"Received element spec: {spec}"
            )
        else:
            yield element, None


def check_input_shape(model, images, argument="data"):
    """Raises ValueError if `images` do not fit the model's input shape."""
    expected = tuple(model.inputs[0].shape[1:])
    got = tuple(images.shape[1:])
    if len(expected) != len(got) or any(
        e is not None and e != g for e, g in zip(expected, got)
    ):
        raise ValueError(
            f"`{argument}` has images of shape {got} but model {model.name!r} "
            f"expects {expected}; use the dataset the network was trained on "
            "(same image size and channels)."
        )


def num_classes(model):
    """The number of logits of a single-output classifier."""
    return int(model.outputs[0].shape[-1])


class Evaluator:
    """Turns `(model, data)` into a dict of named numbers.

    Subclass it and implement `__call__`; the corruption benchmark
    (`keras_tna.analysis.corruptions.evaluate_corruptions`) takes any
    evaluator, so a user can measure e.g. top-5 accuracy or calibration
    under corruptions instead of top-1 accuracy.

    Examples:

    ```python
    class Top5(keras_tna.analysis.Evaluator):
        def __call__(self, model, data):
            ...
            return {"accuracy": top5}
    ```
    """

    def __call__(self, model, data):
        raise NotImplementedError


class Accuracy(Evaluator):
    """Top-`k` classification accuracy of a logits model, as `{"accuracy": a}`.

    Args:
        k: int. Count a prediction correct when the label is among the `k`
            largest logits (`k=1`: top-1 accuracy).
        batch_size: int. Batch size for numpy input.

    Examples:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((2,)),
    ...     keras.layers.Dense(2, use_bias=False, kernel_initializer="identity")])
    >>> x = np.array([[1., 0.], [0., 1.], [1., 0.]])
    >>> Accuracy()(model, (x, np.array([0, 1, 1])))["accuracy"]
    0.6666666666666666
    """

    def __init__(self, k=1, batch_size=256):
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"`k` must be an integer >= 1. Received: k={k!r}")
        self.k = k
        self.batch_size = batch_size

    def __call__(self, model, data):
        check_model(model)
        classes = num_classes(model)
        correct = 0
        total = 0
        checked = False
        for images, labels in iterate_batches(data, self.batch_size):
            if labels is None:
                raise ValueError(
                    "Accuracy needs labels: `data` must yield (images, labels)."
                )
            if not checked:
                check_input_shape(model, images)
                checked = True
            labels = np.asarray(labels).reshape(-1).astype(np.int64)
            if labels.size and (labels.max() >= classes or labels.min() < 0):
                raise ValueError(
                    f"Labels go up to {int(labels.max())} but model "
                    f"{model.name!r} has {classes} classes; the dataset does "
                    "not match the network (mismatched class counts)."
                )
            logits = keras.ops.convert_to_numpy(
                model(images, training=False)
            ).astype(np.float32)
            if self.k == 1:
                hits = np.argmax(logits, axis=-1) == labels
            else:
                top = np.argsort(-logits, axis=-1)[:, : self.k]
                hits = np.any(top == labels[:, None], axis=-1)
            correct += int(np.sum(hits))
            total += len(labels)
        if total == 0:
            raise ValueError("`data` is empty: no examples to evaluate.")
        return {"accuracy": correct / total, "num_examples": total}


def dataset_label(run):
    """Short dataset name for titles: "folder:/a/b/cifar10-jpeg" -> "cifar10-jpeg (folder)"."""
    name = str(run.dataset)
    prefix, sep, path = name.partition(":")
    if sep and prefix in ("folder", "tinyimagenet"):
        name = f"{pathlib.Path(path).name or path} ({prefix})"
    return name + (f", {run.image_size}x{run.image_size}" if run.image_size else "")


def block_label(name):
    """Table label of a layer: "block_3" -> "Block 3", "logits" -> "FC"."""
    if name == LOGITS:
        return "FC"
    match = re.fullmatch(r"block_(\d+)", name)
    return f"Block {match.group(1)}" if match else name


def block_table(names, columns, cell):
    """A markdown table with one row per block and one column per key.

    Args:
        names: list of str, the block layers (rows, labelled by `block_label`).
        columns: iterable of str, the column headers after "Layer".
        cell: callable `(column, name) -> str`, the text of a cell.
    """
    columns = list(columns)
    rows = [[block_label(n)] + [cell(c, n) for c in columns] for n in names]
    return markdown_table(["Layer"] + columns, rows)

