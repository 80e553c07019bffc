"""Module attributes loaded on first use (keeps TensorFlow out of light imports).

`keras_tna.data` and `keras_tna.training` expose names whose modules import
TensorFlow; `lazy_attributes` gives such a package the module-level
`__getattr__` and `__dir__` (PEP 562) that import them when first asked for.
"""

import importlib


def lazy_attributes(package, table, module_globals):
    """The `(__getattr__, __dir__)` pair of a package with lazily loaded names.

    Args:
        package: str. The package's `__name__`.
        table: dict of str to str or None. Attribute name -> the module
            defining it; None: the attribute is the submodule of that name.
        module_globals: dict. The package's `globals()` (listed by `__dir__`).

    Returns:
        tuple of two functions, to assign to `__getattr__` and `__dir__`.

    Examples:

    ```python
    __getattr__, __dir__ = lazy_attributes(
        __name__, {"train": "keras_tna.training.run"}, globals())
    ```
    """

    def __getattr__(name):
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if table[name] is None:
            return importlib.import_module(f"{package}.{name}")
        return getattr(importlib.import_module(table[name]), name)

    def __dir__():
        return sorted(set(module_globals) | set(table))

    return __getattr__, __dir__
