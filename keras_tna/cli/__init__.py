"""The command-line programs: flags and `main` of train, report, cka, probes, robustness.

`apps/<name>.py` and the console scripts `keras-tna-<name>` (setup.py) run
`keras_tna.cli.<name>.run()`. Each program's module defines its absl flags on
import, so import one program per process; this package imports none of them.
"""
