"""Module attributes loaded on first use (keeps TensorFlow out of light imports).

`keras_tna.data` and `keras_tna.training` expose names whose modules import
TensorFlow; `lazy_attributes` gives such a package the module-level
`__getattr__` and `__dir__` (PEP 562) that import them when first asked for.
"""

import importlib


def lazy_attributes(package, modules, module_globals, submodules=(), before_import=None):
    """The `(__getattr__, __dir__)` pair of a package with lazily loaded names.

    Args:
        package: str. The package's `__name__`.
        modules: dict of str to tuple of str. A module -> the names of it
            that the package exposes.
        module_globals: dict. The package's `globals()` (listed by `__dir__`).
        submodules: tuple of str. Submodules exposed as attributes.
        before_import: callable or None. Called before a name's module is
            imported (keras_tna: `tf_logs.quiet_tensorflow_start`).

    Returns:
        tuple of two functions, to assign to `__getattr__` and `__dir__`.

    Examples:

    ```python
    __getattr__, __dir__ = lazy_attributes(
        __name__, {"keras_tna.training.run": ("train",)}, globals())
    ```
    """

    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name):
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if before_import is not None:
            before_import()
        return getattr(importlib.import_module(where[name]), name)

    def __dir__():
        return sorted(set(module_globals) | set(where) | set(submodules))

    return __getattr__, __dir__
