"""keras_tna.distribute: strategies, checks, sharding, chief-only writes, sync BN,
and MultiWorkerMirroredStrategy with two worker processes on 127.0.0.1."""

import doctest
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_tna
from keras_tna import TwinModel, distribute
from keras_tna import settings

import _mw_worker  # tests/_mw_worker.py: the worker program and its model

REPO = pathlib.Path(__file__).resolve().parents[2]
WORKER = REPO / "tests" / "_mw_worker.py"
GROUP_TIMEOUT_S = 150


def two_cpus():
    devices = tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
        pytest.skip("needs 2 logical CPU devices (configured in conftest)")
    return [d.name for d in devices[:2]]


def free_port_pair():
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(2)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


# Models built inside a tf.distribute strategy need Keras on TensorFlow.
tensorflow_backend_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf.distribute strategies train Keras models on the TensorFlow backend only",
)


# ----------------------------------------------------------------- docstrings
@tensorflow_backend_only
def test_docstring_examples_run():
    attempted = failed = 0
    for module in (
        distribute, distribute.cluster, distribute.strategies, distribute.workers,
        distribute.inputs, distribute.model_settings,
    ):
        result = doctest.testmod(
            module,
            extraglobs={"keras_tna": keras_tna, "tf": tf, "keras": keras},
            optionflags=doctest.ELLIPSIS,
        )
        attempted += result.attempted
        failed += result.failed
    assert attempted > 10 and failed == 0


# ----------------------------------------------------------------- strategies
def test_registry_names_and_unknown_name():
    assert distribute.available() == ["default", "mirrored", "multi_worker", "tpu"]
    # The run config checks strategy names without importing TensorFlow.
    assert tuple(distribute.available()) == settings.STRATEGIES
    assert distribute.make_strategy("default") is tf.distribute.get_strategy()
    with pytest.raises(ValueError, match=r"Unknown strategy 'horovod'.*'mirrored'"):
        distribute.make_strategy("horovod")
    with pytest.raises(ValueError, match="collective_timeout_s"):
        distribute.make_strategy("default", collective_timeout_s=0)


def test_mirrored_over_given_devices():
    strategy = distribute.make_strategy("mirrored", devices=two_cpus())
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategy.num_replicas_in_sync == 2
    assert distribute.is_chief(strategy) and distribute.worker_index(strategy) == 0


def test_several_mirrored_strategies_in_one_process():
    # Each instance gets its own collective keys: a second strategy training a
    # model of other shapes does not fail with "Shape mismatch in the
    # collective instance" (it does with two plain tf MirroredStrategy).
    x, y = np.ones((8, 3), "float32"), np.zeros(8, "int32")
    for width in (5, 2):
        strategy = distribute.make_strategy("mirrored", devices=two_cpus())
        with strategy.scope():
            model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(width)])
            model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(4), verbose=0)
        assert int(model.optimizer.iterations.numpy()) == 2


GOOD = {
    "cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]},
    "task": {"type": "worker", "index": 1},
}


def tf_config(**changes):
    config = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        config[key] = value
    return json.dumps(config)


def test_parse_tf_config_accepts_workers_and_chief():
    assert distribute.parse_tf_config(json.dumps(GOOD)) == GOOD
    with_chief = tf_config(
        cluster={"chief": ["10.0.0.1:1"], "worker": ["10.0.0.2:1"]},
        task={"type": "chief", "index": 0},
    )
    assert distribute.parse_tf_config(with_chief)["task"]["type"] == "chief"


@pytest.mark.parametrize(
    "text,match",
    [
        (None, "needs the TF_CONFIG environment variable"),
        ('{"cluster": {"worker": ["a:1"]}, "task": ', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps({"task": GOOD["task"]}), "non-empty 'worker' list"),
        (tf_config(cluster={"worker": []}), "non-empty 'worker' list"),
        (tf_config(cluster={"worker": ["a:1"], "ps": ["b:1"]}), r"remove \['ps'\]"),
        (tf_config(cluster={"worker": "a:1,b:2"}), "must be a list"),
        (tf_config(cluster={"worker": ["localhost"]}), "'localhost'.*not a 'host:port'"),
        (tf_config(cluster={"worker": ["a:99999"]}), "not a 'host:port'"),
        (tf_config(cluster={"worker": ["a:1", "a:1"]}), "twice"),
        (tf_config(task=None), "needs a 'task'"),
        (tf_config(task={"type": "worker"}), "needs a 'task'"),
        (tf_config(task={"type": "chief", "index": 0}), "'chief' is not a job"),
        (tf_config(task={"type": "worker", "index": 2}), r"index must be an int in \[0, 2\)"),
        (tf_config(task={"type": "worker", "index": "1"}), "index must be an int"),
        (tf_config(task={"type": "worker", "index": -1}), "index must be an int"),
    ],
)
def test_bad_tf_config_one_line_errors(text, match):
    with pytest.raises(ValueError, match=match) as info:
        distribute.parse_tf_config(text)
    assert "\n" not in str(info.value)


def test_multi_worker_checks_tf_config_before_starting(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", tf_config(task={"type": "worker", "index": 5}))
    with pytest.raises(ValueError, match="index must be an int in"):
        distribute.make_strategy("multi_worker")
    monkeypatch.delenv("TF_CONFIG")
    with pytest.raises(ValueError, match="needs the TF_CONFIG"):
        distribute.make_strategy("multi_worker")


def test_cluster_registration_bound_configures_what_the_strategy_would(run_python):
    # The coordination service set up as MultiWorkerMirroredStrategy sets it
    # (same leader and jobs), plus the bound; in a fresh process, whose eager
    # context has no coordination service yet.
    result = run_python(
        "from tensorflow.python.distribute import multi_worker_util\n"
        "from tensorflow.python.eager import context\n"
        "from keras_tna.distribute import strategies\n"
        "cluster = {'chief': ['c:0'], 'worker': ['a:1', 'b:2']}\n"
        "strategies._bound_cluster_registration(cluster, 7.3)\n"
        "config = context.context().coordination_service\n"
        "print(config.service_type, config.cluster_register_timeout_in_ms,\n"
        "      config.cluster_register_with_barrier,\n"
        "      [(j.name, j.num_tasks) for j in config.coordinated_job_list])\n"
        "print(config.service_leader == multi_worker_util.coordination_leader(cluster))\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-2:] == [
        "standalone 7300 True [('chief', 1), ('worker', 2)]", "True"
    ]


def test_tpu_address_that_does_not_answer():
    port = free_port_pair()[0]  # bound, then closed: nothing listens there
    with pytest.raises(ValueError, match=rf"TPU at 127.0.0.1:{port} does not answer"):
        distribute.make_strategy("tpu", f"grpc://127.0.0.1:{port}")
    with pytest.raises(ValueError, match="has no TPU device"):
        distribute.make_strategy("tpu", "local")
    with pytest.raises(ValueError, match="grpc://host:port"):
        distribute.make_strategy("tpu", "http://10.0.0.2:8470")
    with pytest.raises(TypeError, match="tpu_address"):
        distribute.make_strategy("tpu", 8470)


# ----------------------------------------------------------------- batch, data
def test_global_batch_must_split_over_replicas():
    strategy = distribute.make_strategy("mirrored", devices=two_cpus())
    assert distribute.check_global_batch(256, strategy) == 128
    assert distribute.check_global_batch(7, tf.distribute.get_strategy()) == 7
    with pytest.raises(ValueError, match="does not split evenly over 2 replicas.*6 or 8"):
        distribute.check_global_batch(7, strategy)
    for bad in (0, -4, 2.0, True):
        with pytest.raises(ValueError, match="positive int"):
            distribute.check_global_batch(bad, strategy)


@pytest.mark.parametrize("policy", ["data", "file", "off"])
def test_shard_sets_the_policy_and_keeps_the_elements(policy):
    ds = tf.data.Dataset.range(10).batch(4)
    sharded = distribute.shard(ds, policy)
    assert sharded.options().experimental_distribute.auto_shard_policy.name == (
        policy.upper()
    )
    assert [b.tolist() for b in sharded.as_numpy_iterator()] == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]
    ]
    with pytest.raises(ValueError, match="Unknown shard policy 'rows'"):
        distribute.shard(ds, "rows")
    with pytest.raises(TypeError, match="tf.data.Dataset"):
        distribute.shard(np.arange(4), policy)


def test_worker_roles_and_seeds():
    # (task type, index, jobs) -> (is chief, worker index in shard order)
    assert distribute.workers._task_role("worker", 0, {"worker": 2}) == (True, 0)
    assert distribute.workers._task_role("worker", 1, {"worker": 2}) == (False, 1)
    assert distribute.workers._task_role("chief", 0, {"chief": 1, "worker": 2}) == (True, 0)
    assert distribute.workers._task_role("worker", 0, {"chief": 1, "worker": 2}) == (False, 1)
    assert distribute.workers._task_role("worker", 1, {"chief": 1, "worker": 2}) == (False, 2)
    one = tf.distribute.get_strategy()
    assert distribute.num_workers(one) == 1
    assert distribute.worker_seed(7, one, "data") == 7
    assert distribute.worker_seed(7, one, "file") == 7  # worker 0: seed + 0


# ----------------------------------------------------------------- chief-only writes
def test_non_chief_backup_writes_only_to_a_removed_temp_dir(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    x, y = np.ones((8, 5), "float32"), np.zeros(8, "int32")

    def fit(callback):
        model = TwinModel(*[keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
                            for _ in range(2)])
        model.compile(optimizer="sgd")
        model.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[callback])

    for chief in (True, False):
        backup = distribute.BackupAndRestore(
            tmp_path / f"backup_{chief}", delete_checkpoint=False
        )
        backup.is_chief = chief  # as on worker 1 of a cluster
        fit(backup)
    assert sorted(os.listdir(tmp_path / "backup_True")) == [
        "latest.weights.h5", "training_metadata.json"
    ]
    assert not (tmp_path / "backup_False").exists()
    assert os.listdir(tmp_path / "tmp") == []  # the worker's temp dirs are gone


def test_worker_dir_is_the_directory_for_the_chief(tmp_path):
    one = tf.distribute.get_strategy()
    with distribute.worker_dir(tmp_path / "out", one) as path:
        assert path == str(tmp_path / "out")
    temp = tmp_path / "temp"
    temp.mkdir()
    distribute.remove_worker_dir(str(temp), tmp_path / "out")
    assert not temp.exists()
    distribute.remove_worker_dir(str(tmp_path), tmp_path)  # the kept one: untouched
    assert tmp_path.exists()


def test_peer_failure_errors_pass_unchanged_outside_multi_worker():
    with pytest.raises(tf.errors.UnavailableError):
        with distribute.stop_on_peer_failure(tf.distribute.get_strategy()):
            raise tf.errors.UnavailableError(None, None, "peer down")


# ----------------------------------------------------------------- XLA
def test_jit_compile_values():
    one = tf.distribute.get_strategy()
    assert distribute.check_jit_compile("auto", one) == "auto"
    assert distribute.check_jit_compile("TRUE", one) is True
    assert distribute.check_jit_compile(False, one) is False
    with pytest.raises(ValueError, match="jit_compile must be one of"):
        distribute.check_jit_compile("yes", one)
    mirrored = distribute.make_strategy("mirrored", devices=two_cpus())
    with pytest.raises(ValueError, match="fails with several replicas on the CPUs"):
        distribute.check_jit_compile(True, mirrored)
    assert distribute.check_jit_compile("auto", mirrored) == "auto"


# ----------------------------------------------------------------- sync BatchNorm
def bn_net(seed):
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, kernel_initializer=keras.initializers.GlorotUniform(seed)),
            keras.layers.BatchNormalization(momentum=0.5),
            keras.layers.ReLU(),
            keras.layers.Dense(4, kernel_initializer=keras.initializers.GlorotUniform(seed + 1)),
        ]
    )


@tensorflow_backend_only
@pytest.mark.parametrize("synchronized", [True, False])
def test_synchronized_batchnorm_matches_one_device(synchronized):
    devices = two_cpus()
    rng = np.random.default_rng(0)
    # The two replicas' halves have different statistics, so that per-replica
    # BatchNorm differs from the global batch's.
    x = np.concatenate([rng.normal(0, 1, (16, 6)), rng.normal(2, 3, (16, 6))])
    x = x.reshape(2, 2, 8, 6).transpose(1, 0, 2, 3).reshape(32, 6).astype("float32")
    y = rng.integers(0, 4, 32).astype("int32")

    def run(strategy):
        with strategy.scope():
            model = TwinModel(bn_net(0), bn_net(10), alpha=0.5)
            assert distribute.synchronize_batchnorm(model, synchronized) == 2
            model.compile(optimizer=keras.optimizers.SGD(0.1))
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
        model.fit(ds, epochs=2, verbose=0)
        return model

    single = run(tf.distribute.get_strategy())
    mirrored = run(distribute.make_strategy("mirrored", devices=devices))
    assert int(mirrored.optimizer.iterations.numpy()) == 4  # global steps
    gaps = [
        float(np.abs(a.numpy() - b.numpy()).max())
        for a, b in zip(single.weights, mirrored.weights)
    ]
    # Each replica's copy of the BatchNorm moving mean.
    copies = [c.numpy() for c in mirrored.base.layers[1].moving_mean.value.values]
    if synchronized:
        assert max(gaps) < 1e-5
        np.testing.assert_allclose(copies[0], copies[1], atol=1e-6)
        assert single.base.layers[1].get_config()["synchronized"] is True
    else:  # statistics per replica: another model; each replica keeps its own
        assert max(gaps) > 1e-3  # moving averages, and reads give replica 0's
        assert np.abs(copies[0] - copies[1]).max() > 0.1
        np.testing.assert_array_equal(mirrored.base.layers[1].moving_mean.numpy(), copies[0])


def test_synchronize_batchnorm_errors():
    with pytest.raises(TypeError, match="keras.Model"):
        distribute.synchronize_batchnorm("resnet18")
    net = bn_net(0)
    assert distribute.synchronize_batchnorm(net, synchronized=False) == 1
    assert net.layers[1].synchronized is False


# ----------------------------------------------------------------- two worker processes
def run_worker_group(tmp, name, worker_args, cluster_size=2):
    """Starts worker processes 0, 1, ... with these args in a cluster of
    `cluster_size` workers on 127.0.0.1; returns (codes, logs, exit times)."""
    ports = free_port_pair()[:cluster_size]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs, logs = [], []
    try:
        for index, args in enumerate(worker_args):
            env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
            env.update(
                TF_CONFIG=json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": index}}
                ),
                TF_CPP_MIN_LOG_LEVEL="2",
                CUDA_VISIBLE_DEVICES="",
                TMPDIR=str(tmp / f"{name}_tmp{index}"),
            )
            os.makedirs(env["TMPDIR"])
            log = tmp / f"{name}_worker{index}.log"
            logs.append(log)
            with open(log, "w") as out:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, str(WORKER), *args],
                        env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                    )
                )
        deadline = time.monotonic() + GROUP_TIMEOUT_S
        exited = [None] * len(procs)
        while None in exited and time.monotonic() < deadline:
            for i, proc in enumerate(procs):
                if exited[i] is None and proc.poll() is not None:
                    exited[i] = time.time()
            time.sleep(0.2)
        if None in exited:
            tails = "\n".join(log.read_text()[-1500:] for log in logs)
            pytest.fail(f"worker group {name} still running after {GROUP_TIMEOUT_S} s:\n{tails}")
        return [p.returncode for p in procs], [log.read_text() for log in logs], exited
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.large
@tensorflow_backend_only
def test_multi_worker_matches_one_worker_stops_on_dead_peer_and_resumes(tmp_path):
    backup = tmp_path / "checkpoints"
    common = ["--backup", str(backup), "--epochs", "4"]
    # Group 1: both workers train; worker 1 dies abruptly at the first step of
    # epoch 2 (after the checkpoint of epochs 0-1), worker 0 must stop.
    out1 = tmp_path / "run1"
    out1.mkdir()
    codes, logs, exited = run_worker_group(
        tmp_path, "run1",
        [
            ["--out", str(out1), "--save_at_epoch", "2", *common],
            ["--out", str(out1), "--save_at_epoch", "2", "--die_at_step", "8", *common],
        ],
    )
    assert codes[1] == _mw_worker.EXIT_DIED, logs[1]
    assert codes[0] != 0, logs[0]
    assert "worker 0: chief=True workers=2 replicas=2" in logs[0]
    assert "worker 1: chief=False workers=2 replicas=2" in logs[1]
    assert "RuntimeError: Worker 0 stopped: a peer of the multi-worker cluster failed" in logs[0]
    assert f"resumes from the last checkpoint in {backup}" in logs[0]
    died_at = float(logs[1].split("dying at ")[1].split()[0])
    assert exited[0] - died_at < 90, "worker 0 took too long to notice"
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2
    # Only the chief wrote the checkpoint; worker 1's temporary copies are gone.
    assert not [p for p in os.listdir(tmp_path / "run1_tmp1") if p.startswith("keras_tna")]

    # One process, same code, same global batch: the reference.
    def reference(epochs):
        model, _ = _mw_worker.train(tf.distribute.get_strategy(), epochs)
        return _mw_worker.state(model)

    ref2 = reference(2)
    model, _ = _mw_worker.train(tf.distribute.get_strategy(), 4)
    ref4, ref_eval = _mw_worker.state(model), _mw_worker.evaluation(model)
    for worker in (0, 1):
        got = np.load(out1 / f"worker{worker}.npz")
        assert int(got["iterations"]) == 8  # 2 epochs x 4 global steps
        for key in ref2:
            np.testing.assert_allclose(got[key], ref2[key], atol=1e-5, err_msg=key)

    # Group 2: the restarted group resumes from the checkpoint.
    out2 = tmp_path / "run2"
    out2.mkdir()
    codes, logs, _ = run_worker_group(
        tmp_path, "run2", [["--out", str(out2), *common]] * 2
    )
    assert codes == [0, 0], logs
    for worker in (0, 1):
        got = np.load(out2 / f"worker{worker}.npz")
        assert int(got["epochs_run"]) == 2  # epochs 2 and 3 only: it resumed
        assert int(got["iterations"]) == 16
        for key in ref4:
            np.testing.assert_allclose(got[key], ref4[key], atol=1e-5, err_msg=key)
        for key in ref_eval:  # evaluate's metrics over the sharded data
            np.testing.assert_allclose(got[key], ref_eval[key], atol=1e-5, err_msg=key)
    assert not backup.exists()  # the chief removed it at the end of training


@pytest.mark.large
def test_worker_whose_peer_never_comes_up_stops_before_training(tmp_path):
    # Worker 1 of a 2-worker cluster is never started (e.g. it was given the
    # wrong task index): worker 0 stops with a TimeoutError, no training.
    codes, logs, _ = run_worker_group(
        tmp_path, "alone", [["--out", str(tmp_path), "--cluster_timeout_s", "3"]]
    )
    assert codes[0] != 0, logs[0]
    assert "TimeoutError: Not all workers of TF_CONFIG's cluster" in logs[0]
    assert "came up within 3 s" in logs[0] and "this one: worker 0" in logs[0]
    assert "chief=" not in logs[0]  # it never got to training
    assert not list(tmp_path.glob("*.npz"))
