"""`TrainConfig`: everything one training run needs, as plain values.

The fields are `keras_tna.settings.SETTINGS` (one declaration per setting:
type, bounds, default, help), which also makes the flags of `apps/train.py`;
a run's `flags.txt` lists them as a flagfile (`TrainConfig.to_flagfile`,
`from_flag_strings`). `TrainConfig.validate` is the one check of a run's
settings: each field by its setting's rule, then `keras_tna.runs.validation`
for what needs a registry or several fields. Nothing in this module imports
TensorFlow.
"""

import dataclasses

from keras_tna import initializers
from keras_tna import methods
from keras_tna import settings
from keras_tna.data import registry as data_registry
from keras_tna.runs import validation

RUN_CONTROL_FIELDS = (
    "output_dir",
    "data_dir",
    "overwrite",
    "verbose",
    "strategy",
    "tpu_address",
    "peer_timeout_s",
    "jit_compile",
    "deterministic",
)

# Fields added after runs were first written: a flags.txt without them was
# trained with this value (not None, as for other fields a flags.txt leaves out).
FIELDS_ADDED_LATER = {"twin_reinit": "all"}


class _TrainConfigMethods:
    """The methods of `TrainConfig` (its fields come from `settings.SETTINGS`)."""

    def __post_init__(self):
        for name, setting in settings.SETTINGS.items():
            if setting.optional and setting.kind is str and getattr(self, name) == "":
                setattr(self, name, None)  # an empty flag: not set
        if self.image_size == 0:
            self.image_size = None
        if isinstance(self.jit_compile, bool):  # as Keras' own jit_compile
            self.jit_compile = "true" if self.jit_compile else "false"

    # ---------------------------------------------------------------- checks
    def validate(self):
        """Checks every value; raises ValueError/TypeError/FileNotFoundError.

        Each field by its `keras_tna.settings` rule (the messages of the
        flags and of `TwinModel`), then what needs a registry, a file or
        several fields (`keras_tna.runs.validation`). Nothing is built or
        loaded.
        """
        for name, setting in settings.SETTINGS.items():
            setting.check(getattr(self, name))
        validation.check_schedule_warmup(self.schedule, self.warmup_epochs)
        validation.check_warmup(self.warmup_epochs, self.epochs)
        validation.check_network(self.model, "model")
        if self.twin_model is not None:
            validation.check_network(self.twin_model, "twin_model")
        validation.check_twin_reinit(self.twin_reinit, self.model, self.twin_model)
        data_registry.resolve(self.dataset)
        if self.kernel_initializer is not None:
            initializers.kernel_initializer(self.kernel_initializer)
        validation.parse_network_args(self.network_args)
        if self.method_spec.freeze_twin:
            validation.check_twin_checkpoint(self.twin_checkpoint)
        validation.check_output_dir(self.output_dir)
        return self

    # ---------------------------------------------------------------- values
    @property
    def method_spec(self):
        """The run's `keras_tna.methods.Method`."""
        return methods.get(self.method)

    def effective_data_seed(self):
        """The seed of data order and augmentation: `data_seed`, else `seed`."""
        return self.seed if self.data_seed is None else self.data_seed

    def network_kwargs(self):
        """`network_args` as a dict of keyword arguments ({} when unset)."""
        return validation.parse_network_args(self.network_args)

    def twin_reinit_layers(self):
        """`twin_reinit` as `keras_tna.make_twin` takes it: "all" or a list of names."""
        return validation.parse_twin_reinit(self.twin_reinit)

    def identity(self):
        """The settings that define what a run computes, as flag strings.

        Leaves out where/how it runs (`RUN_CONTROL_FIELDS`) and the settings
        the method does not read, so e.g. a `"single"` run is the same run
        whatever `alpha` says.
        """
        used = set(self.method_spec.uses)
        return {
            name: value
            for name, value in self.flag_values().items()
            if name not in RUN_CONTROL_FIELDS
            and (name not in methods.METHOD_ONLY_FIELDS or name in used)
        }

    def flag_values(self):
        """All fields as the strings `apps/train.py` flags would hold (None left out)."""
        values = {}
        for field in dataclasses.fields(self):
            if field.name == "overwrite":
                continue
            value = getattr(self, field.name)
            if value is not None:
                values[field.name] = _flag_string(value)
        return values

    def to_flagfile(self):
        """The configuration as flagfile text (`--name=value` lines)."""
        lines = [
            "# Resolved flags of a keras_tna training run; rerun with",
            "#   python apps/train.py --flagfile=<this file>",
        ]
        for name, value in self.flag_values().items():
            lines.append(f"--{name}={value}")
        return "\n".join(lines) + "\n"

    def replace(self, **changes):
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_flag_strings(cls, stored):
        """The configuration a run's flags.txt describes (fields left out were None).

        Args:
            stored: dict of str to str, e.g. from
                `keras_tna.runs.layout.read_flagfile`. Unknown names are
                ignored.

        Returns:
            `TrainConfig` (not validated).

        Examples:

        >>> TrainConfig.from_flag_strings({"epochs": "3", "smoke": "true"}).epochs
        3
        """
        kwargs = config_kwargs_from_flags(stored)
        for field in dataclasses.fields(cls):
            if field.name in FIELDS_ADDED_LATER and field.name not in stored:
                kwargs[field.name] = FIELDS_ADDED_LATER[field.name]
            elif field.name not in stored and field.name != "overwrite":
                if field.default is not None:
                    kwargs[field.name] = None  # left out of flags.txt: it was None
        return cls(**kwargs)


_DOC = """Everything one training run needs, as plain values.

The field names are the flags of `apps/train.py`; `flags.txt` in a run's
output directory lists them as a flagfile. The fields, their types,
defaults and rules are `keras_tna.settings.SETTINGS`.

Args:
{args}

Examples:

>>> config = TrainConfig(dataset="digits", image_size=32, method="tna",
...                      epochs=1, output_dir="/tmp/run")
>>> config.method_spec.effective_alpha(config)  # the matching weight it trains with
0.005
"""

TrainConfig = dataclasses.make_dataclass(
    "TrainConfig",
    [
        (s.name, s.kind, dataclasses.field(default=s.default))
        for s in settings.SETTINGS.values()
    ],
    bases=(_TrainConfigMethods,),
    namespace={
        "__module__": __name__,
        "__doc__": _DOC.format(
            args="\n".join(
                f"    {s.name}: {s.doc_type()}. {s.help}"
                for s in settings.SETTINGS.values()
            )
        ),
    },
)


def _flag_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def config_kwargs_from_flags(stored):
    """`TrainConfig` keyword arguments from flag strings (`read_flagfile`).

    Names that are not `TrainConfig` fields (`methods`, `seeds`, ...) are
    left out; values are converted to each field's type.

    Args:
        stored: dict of str to str, e.g. `{"epochs": "20", "augment": "true"}`.

    Returns:
        dict of typed values.

    Examples:

    >>> config_kwargs_from_flags({"epochs": "20", "augment": "false", "seeds": "0,1"})
    {'epochs': 20, 'augment': False}
    """
    types = {f.name: f.type for f in dataclasses.fields(TrainConfig)}
    kwargs = {}
    for name, value in stored.items():
        kind = types.get(name)
        if kind is None:
            continue
        if kind is bool:
            kwargs[name] = value == "true"
        elif kind in (int, float):
            kwargs[name] = kind(value)
        else:
            kwargs[name] = value
    return kwargs
