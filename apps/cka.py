r"""Linear CKA between the networks of training runs (the paper's Table 5).

Forms Table 5's pairs from the runs given (Single vs Single and TNA vs Single
across different seeds, Base vs Twin within each TNA run, DML A vs DML B
within each DML run), computes minibatch linear CKA (unbiased HSIC, Nguyen et
al. 2021) between every block of the two networks over the test set, and
prints mean +- std per block; writes cka.md, cka.json, cka_heatmaps.png
(block x block) and cka_blocks.png (per-block lines).

    python apps/cka.py --runs=runs/table1/convnet_cifar10 --output_dir=docs/analysis/cka
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads

from keras_tna.cli.cka import main, run  # noqa: E402,F401

if __name__ == "__main__":
    run()
