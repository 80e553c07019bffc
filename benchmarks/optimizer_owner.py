"""Evidence for docs/DESIGN.md "The optimizer owner": keras.optimizers.MultiOptimizer.

Trains a base and a twin with Keras' OWN train_step (`call(training=True)`
returns both logits, `compute_loss` is the TNA loss) and one
`MultiOptimizer(OptimizerMap(twin_opt, {"<base name>/.*": base_opt}))`, and
prints, as JSON, what holds:

- max_abs_diff_vs_TwinModel: weights after 2 epochs vs keras_tna.TwinModel
  (its hand-written step and two optimizers), same data and initial weights;
- optimizer_state_variables: how many variables `model.optimizer.variables`
  holds (the state Keras saves, counts and threads through the JAX step);
- lrs_after_scheduler / scheduler_logs: LearningRateScheduler on both;
- save_load: a .keras round trip of the optimizer state;
- saved_optimizer_state: where a `.keras` file holds optimizer state (group:
  number of variables), MultiOptimizer vs TwinModel;
- mixed_precision: LossScaleOptimizer(MultiOptimizer) with ReduceLROnPlateau;
- backup_restore_max_diff: 4 epochs vs 2 + BackupAndRestore resume of 2;
- mirrored_vs_single_max_diff (TensorFlow): MirroredStrategy over 2 logical
  CPUs vs one device (alpha=0, so no hand-written mean needs the replica scale);
- variable_paths: what `variable.path` (OptimizerMap's key) is for networks
  built in different ways.

Usage:
    python benchmarks/optimizer_owner.py
    KERAS_BACKEND=jax python benchmarks/optimizer_owner.py
"""

import json
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration()] * 2,
    )

from keras_tna import TwinModel  # noqa: E402


def net(seed, name):
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(
                8, activation="relu",
                kernel_initializer=keras.initializers.GlorotUniform(seed),
            ),
            keras.layers.Dense(
                3, kernel_initializer=keras.initializers.GlorotUniform(seed + 7)
            ),
        ],
        name=name,
    )


@keras.saving.register_keras_serializable("optimizer_owner")
class KTwin(keras.Model):
    """TNA run by Keras' own train_step: call(training=True) gives both logits."""

    def __init__(self, base, twin, alpha=5e-3, **kwargs):
        super().__init__(**kwargs)
        self.base, self.twin, self.alpha = base, twin, alpha
        self.ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def get_config(self):
        return {
            "base": keras.saving.serialize_keras_object(self.base),
            "twin": keras.saving.serialize_keras_object(self.twin),
            "alpha": self.alpha,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("base", "twin"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    def call(self, x, training=False):
        base = self.base(x, training=training)
        return (base, self.twin(x, training=training)) if training else base

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        if not isinstance(y_pred, (tuple, list)):
            return self.ce(y, y_pred)
        b, t = (ops.cast(v, "float32") for v in y_pred)
        matching = ops.mean(ops.sum(ops.square(b - t), -1))
        return self.ce(y, b) + self.ce(y, t) + self.alpha * matching

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if isinstance(y_pred, (tuple, list)):
            y_pred = y_pred[0]
        return super().compute_metrics(x, y, y_pred, sample_weight)


def multi(base_opt, twin_opt, base):
    return keras.optimizers.MultiOptimizer(
        keras.optimizers.OptimizerMap(twin_opt, {f"{base.name}/.*": base_opt})
    )


def ktwin(tag, optimizer=keras.optimizers.Adam, lr=1e-2, alpha=5e-3, **kw):
    b, t = net(0, f"base{tag}"), net(1, f"twin{tag}")
    m = KTwin(b, t, alpha=alpha, **kw)
    m(np.zeros((1, 6), "float32"))
    m.compile(optimizer=multi(optimizer(lr, name=f"b{tag}"),
                              optimizer(lr, name=f"t{tag}"), b))
    return m


def attempt(out, key, fn):
    try:
        out[key] = fn()
    except Exception as error:  # the failure is the finding
        out[key] = f"{type(error).__name__}: {str(error)[:300]}"


def main():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = rng.integers(0, 3, 64)
    out = {"backend": keras.backend.backend(), "keras": keras.__version__}

    def numerics():
        ref = TwinModel(net(0, "rbase"), net(1, "rtwin"), alpha=5e-3)
        ref.compile(optimizer=keras.optimizers.Adam(1e-2))
        ref.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        m = ktwin("")
        m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        a = ref.base.weights + ref.twin.weights
        b = m.base.weights + m.twin.weights
        return float(max(np.abs(np.asarray(p) - np.asarray(q)).max()
                         for p, q in zip(a, b)))

    attempt(out, "max_abs_diff_vs_TwinModel", numerics)

    def state_counts():
        m = ktwin("c")
        m.fit(x, y, batch_size=16, epochs=1, verbose=0)
        ref = TwinModel(net(0, "cbase"), net(1, "ctwin"))
        ref.compile(optimizer=keras.optimizers.Adam(1e-2))
        ref.fit(x, y, batch_size=16, epochs=1, verbose=0)
        return {"MultiOptimizer": len(m.optimizer.variables),
                "its_sub_optimizers": [len(o.variables) for o in m.optimizer.optimizers],
                "TwinOptimizer": len(ref.optimizer.variables)}

    attempt(out, "optimizer_state_variables", state_counts)

    def scheduler():
        m = ktwin("s", keras.optimizers.SGD, 0.1)
        h = m.fit(x, y, epochs=3, verbose=0, callbacks=[
            keras.callbacks.LearningRateScheduler(lambda e, lr: 0.1 / (e + 1))])
        return {"lrs": [float(np.asarray(o.learning_rate))
                        for o in m.optimizer.optimizers],
                "logs": sorted(k for k in h.history if "learning" in k)}

    attempt(out, "lr_scheduler", scheduler)

    def save_load():
        m = ktwin("l")
        m.fit(x, y, batch_size=16, epochs=1, verbose=0)
        path = os.path.join(tempfile.mkdtemp(), "m.keras")
        m.save(path)
        loaded = keras.saving.load_model(path)
        return all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in
                   zip(m.optimizer.variables, loaded.optimizer.variables))

    attempt(out, "save_load_state_equal", save_load)

    def saved_layout():
        import io
        import zipfile

        import h5py

        groups = {}
        for label, m in (("MultiOptimizer", ktwin("g")),
                         ("TwinModel", TwinModel(net(0, "gbase"), net(1, "gtwin")))):
            if label == "TwinModel":
                m.compile(optimizer=keras.optimizers.Adam(1e-2))
            m.fit(x, y, batch_size=16, epochs=1, verbose=0)
            path = os.path.join(tempfile.mkdtemp(), "m.keras")
            m.save(path)
            with zipfile.ZipFile(path) as z, h5py.File(
                io.BytesIO(z.read("model.weights.h5"))
            ) as f:
                found = {}
                f.visititems(lambda name, obj: found.__setitem__(
                    name.rsplit("/vars", 1)[0], len(obj))
                    if name.endswith("vars") and "optimizer" in name else None)
                groups[label] = found
        return groups

    attempt(out, "saved_optimizer_state", saved_layout)

    def mixed_precision():
        m = ktwin("m", keras.optimizers.SGD, 0.1, dtype="mixed_float16")
        m.fit(x, y, epochs=2, verbose=0, callbacks=[
            keras.callbacks.ReduceLROnPlateau("loss", patience=0, min_delta=10)])
        return type(m.optimizer).__name__

    attempt(out, "mixed_precision_ReduceLROnPlateau", mixed_precision)

    def backup_restore():
        class StopAfter2(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                self.model.stop_training = epoch == 1

        kw = dict(batch_size=16, epochs=4, shuffle=False, verbose=0)
        straight = ktwin("r")
        straight.fit(x, y, **kw)
        d = tempfile.mkdtemp()
        ktwin("r").fit(x, y, callbacks=[
            keras.callbacks.BackupAndRestore(d, delete_checkpoint=False),
            StopAfter2()], **kw)
        resumed = ktwin("r")
        resumed.fit(x, y, callbacks=[keras.callbacks.BackupAndRestore(d)], **kw)
        a = straight.weights + straight.optimizer.variables
        b = resumed.weights + resumed.optimizer.variables
        return float(max(np.abs(np.asarray(p) - np.asarray(q)).max()
                         for p, q in zip(a, b)))

    attempt(out, "backup_restore_max_diff", backup_restore)

    if keras.backend.backend() == "tensorflow":
        def mirrored():
            weights = []
            for strategy in (tf.distribute.get_strategy(),
                             tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])):
                with strategy.scope():
                    m = ktwin("d", keras.optimizers.SGD, 0.1, alpha=0.0)
                    m.optimizer.build(m.trainable_variables)
                m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
                weights.append([np.asarray(w) for w in m.weights])
            return float(max(np.abs(p - q).max() for p, q in zip(*weights)))

        attempt(out, "mirrored_vs_single_max_diff", mirrored)

    def paths():
        seq = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)], name="base")
        path = os.path.join(tempfile.mkdtemp(), "b.keras")
        seq.save(path)
        inputs = keras.Input((6,))
        functional = keras.Model(inputs, keras.layers.Dense(3, name="logits")(inputs),
                                 name="fbase")
        return {
            "sequential": seq.weights[0].path,
            "sequential_after_load": keras.saving.load_model(path).weights[0].path,
            "functional": functional.weights[0].path,
        }

    attempt(out, "variable_paths", paths)
    print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
