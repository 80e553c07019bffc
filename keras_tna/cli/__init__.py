"""The command-line programs: flags and `main` of train, report, cka, probes, robustness.

`apps/<name>.py` and the console scripts `keras-tna-<name>` (setup.py) run
`keras_tna.cli.<name>.run()`. Each program's module defines its absl flags on
import, so import one program per process; this package imports none of them.
"""

import sys

from absl import app
from absl import flags

__all__ = ["HELP_ARGUMENTS", "run_program"]

# What asks for the short help. absl's own --help and --helpshort print it and
# exit 1; the programs exit 0 (a help asked for is not an error). --helpfull
# stays absl's list of every flag.
HELP_ARGUMENTS = ("--help", "-help", "-h", "-?", "--help=true", "--helpshort")


def run_program(main, *flag_modules):
    """`absl.app.run(main)`, with `--help` listing the program's own flags.

    absl's `--help` lists only the flags defined in `__main__` (the
    `apps/<name>.py` script), which defines none; this registers the flags of
    `flag_modules` as the main module's key flags first. `--help` (any of
    `HELP_ARGUMENTS`) prints the program's docstring and those flags and exits 0.

    Args:
        main: callable. The absl main, `main(argv)`.
        *flag_modules: modules. Those defining the program's flags (its own
            module, shared flag modules).

    Examples:

    ```python
    run_program(main, sys.modules[__name__], report_flags)
    ```
    """
    defined = flags.FLAGS.flags_by_module_dict()
    for module in flag_modules:
        for flag in defined.get(module.__name__, []):
            flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    if any(arg in HELP_ARGUMENTS for arg in sys.argv[1:]):
        app.usage(shorthelp=True, writeto_stdout=True)
        sys.exit(0)
    app.run(main)
