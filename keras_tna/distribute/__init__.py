"""Scaling TNA out with `tf.distribute`: strategies, sharding, checkpoints.

TNA doubles the training compute, so its users are the ones who outgrow one
accelerator. This module holds the pieces a training program needs to run the
same flagfile on one device, all local GPUs, several machines or a Cloud TPU:

- `make_strategy(name, ...)`: the one registry of strategy names
  (`available()`), with `TF_CONFIG` and TPU checks that fail before training.
- `check_global_batch(batch_size, strategy)`: the global batch must split
  evenly over the replicas (it means the same thing under every strategy).
- `shard(dataset, policy)`, `worker_seed(seed, strategy, policy)`: the
  auto-shard policy set on purpose, and per-worker seeds where needed.
- `is_chief`, `checkpoint_dir_for_worker`, `worker_dir`, `BackupAndRestore`:
  only the chief keeps what it writes; every worker restores.
- `synchronize_batchnorm(model)`: synchronised batch statistics (off by
  default, as in the paper).
- `check_jit_compile(value, strategy)`: XLA on request, refused where it fails.
- `stop_on_peer_failure(strategy)`: a dead worker becomes a one-line error.

See docs/distributed.md for how to run on several GPUs, machines and TPUs.

Examples:

```python
strategy = keras_tna.distribute.make_strategy("mirrored")
per_replica = keras_tna.distribute.check_global_batch(256, strategy)
bundle = keras_tna.data.load("cifar10", batch_size=256, seed=0)
train = keras_tna.distribute.shard(bundle.train, "data")
with strategy.scope():
    model = keras_tna.TwinModel(base, twin)
    model.compile(optimizer=...)
backup = keras_tna.distribute.BackupAndRestore("run/checkpoints", strategy)
with keras_tna.distribute.stop_on_peer_failure(strategy):
    model.fit(train, epochs=200, callbacks=[backup])
```
"""

# The code lives in its modules; their public names are importable from here.
from keras_tna.distribute.cluster import parse_tf_config, TF_CONFIG_EXAMPLE
from keras_tna.distribute.strategies import (
    available,
    DEFAULT_CLUSTER_TIMEOUT_S,
    DEFAULT_COLLECTIVE_TIMEOUT_S,
    DEFAULT_TPU_CONNECT_TIMEOUT_S,
    make_strategy,
    STRATEGIES,
)
from keras_tna.distribute.inputs import (
    check_global_batch,
    distribute_dataset_options,
    shard,
    worker_seed,
)
from keras_tna.distribute.model_settings import check_jit_compile, synchronize_batchnorm
from keras_tna.distribute.workers import (
    BackupAndRestore,
    checkpoint_dir_for_worker,
    is_chief,
    num_workers,
    remove_worker_dir,
    stop_on_peer_failure,
    worker_dir,
    worker_index,
)

__all__ = [
    "available",
    "BackupAndRestore",
    "check_global_batch",
    "check_jit_compile",
    "checkpoint_dir_for_worker",
    "DEFAULT_CLUSTER_TIMEOUT_S",
    "DEFAULT_COLLECTIVE_TIMEOUT_S",
    "DEFAULT_TPU_CONNECT_TIMEOUT_S",
    "distribute_dataset_options",
    "is_chief",
    "make_strategy",
    "num_workers",
    "parse_tf_config",
    "remove_worker_dir",
    "shard",
    "stop_on_peer_failure",
    "STRATEGIES",
    "synchronize_batchnorm",
    "TF_CONFIG_EXAMPLE",
    "worker_dir",
    "worker_index",
    "worker_seed",
]
