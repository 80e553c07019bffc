r"""Corruption robustness of trained networks (the paper's Table 6).

Evaluates each run's base network on the 15 common corruptions x 5
severities (Hendrycks & Dietterich 2019) and prints, per corruption, the
accuracy averaged over severities, one column per training method (mean +-
std over seeds), then the average over corruptions, the clean accuracy
("None"), the mean corruption error normalised by the Single baseline and the
unnormalised mean error. Writes robustness.md, robustness.json and
robustness.png.

Sources of corrupted images (--source):
  generated  corrupt the run's own test set on the fly (imagecorruptions-imaug,
             ImageNet-C severities), seeded and cached; labelled "generated".
  tfds       TFDS cifar10_corrupted (released CIFAR-10-C), prepared in --data_dir.
  cifar_c    a released CIFAR-10-C/CIFAR-100-C folder (--corruptions_dir).
  image_c    a released TinyImageNet-C/ImageNet-C folder (--corruptions_dir).

    python apps/robustness.py --runs=runs/table1/convnet_cifar10 \
        --source=generated --output_dir=docs/analysis/robustness
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads

from keras_tna.cli.robustness import main, run  # noqa: E402,F401

if __name__ == "__main__":
    run()
