"""Shared fixtures: the real CIFAR-10 image folder from ../shared when present."""

import os
import pathlib
import tarfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_TAR = pathlib.Path(
    os.environ.get(
        "KERAS_TNA_SHARED_CIFAR10",
        REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.xz",
    )
)
CACHE = pathlib.Path(
    os.environ.get("KERAS_TNA_CACHE", pathlib.Path.home() / ".cache" / "keras_tna")
)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture(scope="session")
def cifar10_folder():
    """Path to the real CIFAR-10 image folder (train/, test/); skips if absent."""
    dest = CACHE / "cifar10-jpeg"
    if (dest / "test").is_dir() and (dest / "train").is_dir():
        return dest
    if not SHARED_TAR.is_file():
        pytest.skip(f"real CIFAR-10 not available here ({SHARED_TAR} is absent)")
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = CACHE / "cifar10-jpeg.partial"
    with tarfile.open(SHARED_TAR) as tar:
        tar.extractall(tmp, filter="data")
    (tmp / "cifar10-jpeg").rename(dest)
    tmp.rmdir()
    return dest
