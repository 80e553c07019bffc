"""The one registry of dataset names.

A name is either a plain registry key (`"cifar10"`) or a key with an argument:
`"folder:<path>"`, `"tinyimagenet:<path>"` (separator `:`) or
`"cifar10_corrupted/<corruption>_<severity>"` (separator `/`). `resolve` is the
only place that parses names.

Loaders are imported on first call: the registry itself imports no TensorFlow,
so the TensorFlow-free loaders (`array_sources.py`, `arrays_loader` below) use it too.
"""

import dataclasses
import importlib
from typing import Callable, Optional


def _lazy(module, function):
    """`keras_tna.data.<module>.<function>`, imported when first called."""

    def loader(argument, options):
        loaded = importlib.import_module(f"keras_tna.data.{module}")
        return getattr(loaded, function)(argument, options)

    loader.__name__ = loader.__qualname__ = function
    return loader


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset.

    Attributes:
        key: str, the name, or the part before the separator.
        loader: callable `(argument, source.Options) -> source.Source`.
        separator: str or None, `":"` or `"/"` when the name takes an argument.
        argument: str or None, how the argument is written in messages.
        description: str, one line for `available()` and error messages.
        splits: tuple of str, the splits it has (`"train"`, `"test"`).
        arrays_loader: callable or None, like `loader` but returning in-memory
            splits decoded without TensorFlow (`keras_tna.data.load_arrays`);
            None where the dataset needs TensorFlow (TFDS).
    """

    key: str
    loader: Callable
    separator: Optional[str] = None
    argument: Optional[str] = None
    description: str = ""
    splits: tuple = ("train", "test")
    arrays_loader: Optional[Callable] = None

    @property
    def pattern(self):
        if self.separator is None:
            return self.key
        return f"{self.key}{self.separator}{self.argument}"


_REGISTRY = {
    spec.key: spec
    for spec in (
        DatasetSpec(
            "digits",
            _lazy("digits", "load_digits"),
            description="sklearn's 1,797 8x8 grey digits (offline, nothing to download)",
            arrays_loader=_lazy("array_sources", "load_digits_arrays"),
        ),
        DatasetSpec(
            "cifar10", _lazy("tfds_sources", "load_cifar10"), description="TFDS CIFAR-10"
        ),
        DatasetSpec(
            "cifar100", _lazy("tfds_sources", "load_cifar100"), description="TFDS CIFAR-100"
        ),
        DatasetSpec(
            "imagenet2012",
            _lazy("tfds_sources", "load_imagenet2012"),
            description="TFDS ImageNet-1k, prepared from the manual download (manual_dir)",
        ),
        DatasetSpec(
            "cifar10_corrupted",
            _lazy("tfds_sources", "load_cifar10_corrupted"),
            separator="/",
            argument="<corruption>_<severity>",
            description="TFDS CIFAR-10-C, test split only",
            splits=("test",),
        ),
        DatasetSpec(
            "folder",
            _lazy("folders", "load_folder"),
            separator=":",
            argument="<path>",
            description="an image folder: <path>/train/<class>/*, <path>/test/<class>/*",
            arrays_loader=_lazy("array_sources", "load_folder_arrays"),
        ),
        DatasetSpec(
            "tinyimagenet",
            _lazy("folders", "load_tinyimagenet"),
            separator=":",
            argument="<path>",
            description="tiny-imagenet-200 unpacked at <path> (train/, val/)",
            arrays_loader=_lazy("array_sources", "load_tinyimagenet_arrays"),
        ),
    )
}


def available():
    """The dataset names `load` accepts, arguments written as `<...>`.

    Returns:
        list of str, sorted.

    Examples:

    ```python
    keras_tna.data.available()
    # ['cifar10', 'cifar100', 'cifar10_corrupted/<corruption>_<severity>', ...]
    ```
    """
    return sorted(spec.pattern for spec in _REGISTRY.values())


def available_arrays():
    """The dataset names `load_arrays` accepts (no TensorFlow needed).

    Returns:
        list of str, sorted.

    Examples:

    ```python
    keras_tna.data.registry.available_arrays()
    # ['digits', 'folder:<path>', 'tinyimagenet:<path>']
    ```
    """
    return sorted(spec.pattern for spec in _REGISTRY.values() if spec.arrays_loader)


def resolve(name):
    """Splits a dataset name into its registry entry and its argument.

    Args:
        name: str, e.g. `"cifar10"`, `"folder:/data/pets"`,
            `"cifar10_corrupted/fog_3"`.

    Returns:
        `(DatasetSpec, argument)`, argument None for plain names.

    Raises:
        TypeError: `name` is not a string.
        ValueError: unknown name, or an argument missing or not expected.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"The dataset name must be a string, one of {available()}. "
            f"Received: {name!r} of type {type(name).__name__}"
        )
    key, argument = name, None
    for separator in (":", "/"):
        if separator in name:
            key, argument = name.split(separator, 1)
            break
    spec = _REGISTRY.get(key)
    if spec is None or (argument is not None and spec.separator != separator):
        raise ValueError(
            f"Unknown dataset {name!r}. Use one of: {', '.join(available())}. "
            f"Received: dataset={name!r}"
        )
    if spec.separator is not None and not argument:
        raise ValueError(
            f"Dataset {key!r} needs an argument: write it as {spec.pattern!r} "
            f"({spec.description}). Received: {name!r}"
        )
    return spec, argument
