"""The shared CIFAR-10 image folder for the benchmarks (no TensorFlow needed).

`cifar10_folder(path)` returns the folder, unpacking the shared tarball
(`../shared/data/cifar10-jpeg.tar.xz`, beside the repository) into the default
location `~/.cache/keras_tna/cifar10-jpeg` the first time.
"""

import pathlib
import tarfile

SHARED_TAR = pathlib.Path(__file__).resolve().parents[2] / "shared/data/cifar10-jpeg.tar.xz"
DEFAULT_FOLDER = pathlib.Path.home() / ".cache/keras_tna/cifar10-jpeg"


def cifar10_folder(folder):
    """The image folder, unpacked from the shared tarball if it is not there."""
    folder = pathlib.Path(folder).expanduser()
    if (folder / "train").is_dir():
        return folder
    if folder != DEFAULT_FOLDER or not SHARED_TAR.is_file():
        raise SystemExit(f"No image folder at {folder}: pass --folder=<dir with train/, test/>")
    print(f"Unpacking {SHARED_TAR} into {folder.parent} ...", flush=True)
    partial = folder.parent / (folder.name + ".partial")
    with tarfile.open(SHARED_TAR) as tar:
        tar.extractall(partial, filter="data")
    (partial / folder.name).rename(folder)
    partial.rmdir()
    return folder
