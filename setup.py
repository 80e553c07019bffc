"""keras_tna: Twin Network Augmentation for Keras 3 / TensorFlow."""

import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent

setup(
    name="keras_tna",
    version="0.1.0",
    description=(
        "Twin Network Augmentation (TNA): train a base network with a twin, "
        "keep only the base."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_tna", "keras_tna.*"]),
    # The programs of apps/ (`python apps/train.py ...` runs the same code).
    entry_points={
        "console_scripts": [
            f"keras-tna-{name}=keras_tna.cli.{name}:run"
            for name in ("train", "report", "cka", "probes", "robustness")
        ],
    },
    install_requires=[
        "tensorflow>=2.16,<2.22",
        "keras>=3.5,<3.16",
        "tensorflow-datasets>=4.9.6,<4.10",
        # tensorflow-datasets 4.9.10 imports importlib_resources without
        # declaring it.
        "importlib_resources>=6,<8",
        "keras-cv>=0.9,<0.10",
        "numpy>=1.26,<3",
        "absl-py>=1.4,<3",
        # The offline default dataset (sklearn's bundled digits).
        "scikit-learn>=1.3,<2",
        # Welch's t-test p-values in reports (keras_tna.reporting).
        "scipy>=1.10,<2",
        # Plots written by apps/report.py and the analysis apps.
        "matplotlib>=3.7,<4",
        # TensorBoard logs of apps/train.py (TensorFlow 2.21 no longer
        # depends on it).
        "tensorboard>=2.16,<2.22",
    ],
    extras_require={
        "corruptions": ["imagecorruptions-imaug>=1.1.5,<1.2"],
        # "keras_hub:<BackboneClass>" networks. keras-hub 0.32 pulls
        # tensorflow-text 2.21 (which requires the full `tensorflow` 2.21, as
        # install_requires does; never pair it with tensorflow-cpu) and pins
        # kagglesdk==0.1.28; measured in docs/models.md.
        "hub": ["keras-hub>=0.32,<0.33"],
        # TwinModel on Keras' JAX backend (KERAS_BACKEND=jax); pillow decodes
        # images for the TensorFlow-free data path (keras_tna.data.load_arrays).
        "jax": ["jax>=0.4.30", "pillow>=9,<14"],
        # TwinModel on Keras' PyTorch backend (KERAS_BACKEND=torch). The PyPI
        # wheel pulls the CUDA libraries (about 5 GB); CI installs it for the
        # backend-specific tests only (docs/backends.md).
        "torch": ["torch>=2.1", "pillow>=9,<14"],
        "test": [
            "pytest>=8,<10",
            "pytest-xdist>=3.5,<4",
            # Line coverage of the suite (docs/testing.md).
            "pytest-cov>=5,<8",
            "nbclient>=0.10,<0.12",
            "nbformat>=5.9,<6",
            "ipykernel>=6.29,<8",
            "imagecorruptions-imaug>=1.1.5,<1.2",
            "jax>=0.4.30",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
