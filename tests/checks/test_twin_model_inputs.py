"""Bad inputs to TwinModel get keras_tna's own one-line answer (issue 12).

One test per class of bad input, each asserting what the message says (the
problem and the fix), not just the exception type. The sweep behind
`docs/reliability.md` is `tests/_reliability_sweep.py`.
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_tna import DivergenceGuard, TwinModel

from _tiny_nets import C, D, conv, dense  # tests/_tiny_nets.py

pytestmark = pytest.mark.every_backend  # also in the JAX and PyTorch passes

N = 32


def data(seed=0, n=N):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, D)).astype("float32"),
            rng.integers(0, C, size=n).astype("int32"))


def model(**kwargs):
    return TwinModel(dense(0), dense(1), **kwargs)


def ds(*arrays, batch=8):
    d = tf.data.Dataset.from_tensor_slices(arrays if len(arrays) > 1 else arrays[0])
    return d.batch(batch) if batch else d


def one_line(excinfo):
    text = str(excinfo.value)
    assert "\n" not in text.strip(), text
    assert "Received" in text, text
    return text


X, Y = data()
ONEHOT = np.eye(C, dtype="float32")[Y]


# ------------------------------------------------------------------ arguments
@pytest.mark.parametrize("kwargs,phrase", [
    ({"alpha": float("inf")}, r"`alpha` must be a finite number >= 0"),
    ({"alpha": True}, r"`alpha` must be a finite number >= 0 .*Received: alpha=True"),
    ({"alpha": "5e-3"}, r"`alpha` must be a finite number >= 0 .*Received: alpha='5e-3'"),
    ({"matching": "dml", "temperature": "hot"}, r"`temperature` must be a finite number > 0"),
    ({"matching": "dml", "temperature": float("inf")}, r"`temperature` must be a finite"),
    ({"freeze_twin": "no"}, r"`freeze_twin` must be True or False"),
    ({"matching_start_epoch": None}, r"`matching_start_epoch` must be an integer >= 0"),
])
def test_bad_constructor_arguments_are_rejected(kwargs, phrase):
    with pytest.raises((ValueError, TypeError), match=phrase) as excinfo:
        model(**kwargs)
    one_line(excinfo)


def test_numpy_alpha_is_accepted():
    assert model(alpha=np.int64(0)).alpha == 0.0
    assert model(alpha=np.float32(0.5)).alpha == 0.5


def test_twin_with_another_input_shape_is_rejected():
    with pytest.raises(ValueError, match="must take inputs of the same shape") as e:
        TwinModel(dense(0), dense(1, d=D + 1))
    assert "(None, 5)" in one_line(e) and "(None, 6)" in str(e.value)


# -------------------------------------------------------------------- compile
def _shared_after_fit(opt):
    first = model()
    first.compile(optimizer=opt)
    first.fit(X, Y, verbose=0)
    model().compile(optimizer=opt)


def _shared_before_fit(opt):
    first = model()
    first.compile(optimizer=opt)
    model().compile(optimizer=opt)


def _plain_model_first(opt):
    plain = dense()
    plain.compile(optimizer=opt, loss="mse")
    plain.fit(X, ONEHOT, verbose=0)
    model().compile(optimizer=opt)


def _twin_optimizer_of_another(opt):
    first = model()
    first.compile(twin_optimizer=opt)
    first.fit(X, Y, verbose=0)
    model().compile(twin_optimizer=opt)


@pytest.mark.parametrize("reuse", [
    _shared_after_fit, _shared_before_fit, _plain_model_first, _twin_optimizer_of_another,
])
def test_one_optimizer_object_in_two_models_fails_at_compile(reuse):
    with pytest.raises(ValueError, match="optimizer holds the state of one network") as e:
        reuse(keras.optimizers.SGD(0.1))
    assert "Create a new optimizer" in one_line(e)


def test_recompiling_one_model_with_its_optimizer_is_fine():
    m, opt = model(), keras.optimizers.SGD(0.1)
    m.compile(optimizer=opt)
    m.fit(X, Y, verbose=0)
    m.compile(optimizer=opt)
    m.fit(X, Y, verbose=0)


@pytest.mark.parametrize("kwargs,phrase", [
    ({"optimizer": "sgdd"}, r"`optimizer` must be a keras optimizer or the name"),
    ({"loss": keras.losses.SparseCategoricalCrossentropy()}, r"must take logits.*from_logits=True"),
])
def test_bad_compile_arguments_are_rejected(kwargs, phrase):
    with pytest.raises(ValueError, match=phrase) as e:
        model().compile(**kwargs)
    one_line(e)


def test_twin_optimizer_with_a_frozen_twin_warns():
    with pytest.warns(UserWarning, match="`twin_optimizer` is not used: the twin is frozen"):
        model(freeze_twin=True).compile(twin_optimizer=keras.optimizers.SGD())


# --------------------------------------------------------------------- labels
@pytest.mark.parametrize("as_dataset", [False, True])
def test_one_hot_labels_with_the_default_loss_train_like_class_ids(as_dataset):
    weights = []
    for labels in (Y, ONEHOT):
        m = model(alpha=0.5)
        m.compile(optimizer=keras.optimizers.SGD(0.1))
        if as_dataset:
            m.fit(ds(X, labels, batch=N), verbose=0)
        else:
            m.fit(X, labels, batch_size=N, verbose=0)
        weights.append(m.base.get_weights()[0])
    np.testing.assert_allclose(weights[0], weights[1], atol=1e-6)
    assert model().get_compile_config() == {}  # uncompiled
    m.compile()
    assert m.get_compile_config()["loss"] is None  # "pick from the labels" survives saving


@pytest.mark.parametrize("loss,labels,phrase", [
    (keras.losses.CategoricalCrossentropy(from_logits=True), "ids",
     r"integer class ids but the loss is CategoricalCrossentropy.*loss=None"),
    (keras.losses.SparseCategoricalCrossentropy(from_logits=True), "onehot",
     r"one-hot but the loss is SparseCategoricalCrossentropy.*loss=None"),
])
@pytest.mark.parametrize("as_dataset", [False, True])
def test_labels_that_do_not_match_an_explicit_loss_fail_before_training(
    loss, labels, phrase, as_dataset
):
    m = model()
    m.compile(loss=loss)
    y = Y if labels == "ids" else ONEHOT
    with pytest.raises(ValueError, match=phrase) as e:
        m.fit(ds(X, y), verbose=0) if as_dataset else m.fit(X, y, verbose=0)
    one_line(e)
    assert int(m.base_optimizer.iterations.numpy()) == 0


@pytest.mark.parametrize("bad,received", [(C + 3, "labels from 0 to 7"), (-1, "labels from -1 to")])
@pytest.mark.parametrize("where", ["train", "validation"])
def test_labels_out_of_range_from_a_dataset_get_one_line(bad, received, where):
    y = Y.copy()
    y[5] = bad
    m = model()
    with pytest.raises(ValueError, match=r"Labels must be class ids in \[0, 4\)") as e:
        if where == "train":
            m.fit(ds(X, y), verbose=0)
        else:
            m.fit(ds(X, Y), validation_data=ds(X, y), verbose=0)
    assert received in one_line(e)
    assert "Graph execution" not in str(e.value)


@pytest.mark.parametrize("as_dataset", [False, True])
def test_fractional_float_labels_are_not_truncated(as_dataset):
    y = Y.astype("float32") + 0.5
    with pytest.raises(ValueError, match=r"(F|f)loat labels .*whole class ids.*truncated") as e:
        model().fit(ds(X, y), verbose=0) if as_dataset else model().fit(X, y, verbose=0)
    one_line(e)


def test_whole_float_labels_and_column_labels_train():
    model().fit(X, Y.astype("float32"), verbose=0)
    model().fit(X, Y[:, None], verbose=0)


@pytest.mark.parametrize("as_dataset", [False, True])
def test_string_labels_are_rejected_with_a_mapping_hint(as_dataset):
    names = np.array(["cat", "dog", "eel", "fox"])[Y]
    hint = "StringLookup" if as_dataset else "np.unique"
    with pytest.raises(TypeError, match="labels are strings; TwinModel needs integer class ids") as e:
        model().fit(ds(X, names), verbose=0) if as_dataset else model().fit(X, names, verbose=0)
    assert hint in one_line(e)


@pytest.mark.parametrize("make,phrase", [
    (lambda m: m.fit(ds(X), verbose=0), r"the dataset yields no labels.*\(x, y\) batches"),
    (lambda m: m.fit(X, verbose=0), r"TwinModel needs labels: pass y"),
    (lambda m: m.fit(tf.data.Dataset.from_tensor_slices({"image": X, "label": Y}).batch(8),
                     verbose=0), r"yields dicts.*as_supervised=True"),
    (lambda m: m.fit(X, Y, validation_data=(X,), verbose=0),
     r"`validation_data` must be \(x, y\).*labels are needed"),
    (lambda m: m.fit(X, Y[:-3], verbose=0), r"one label per example.*32 examples"),
    (lambda m: m.fit(X, np.zeros((N, 2, 2), "int32"), verbose=0),
     r"labels must have shape \(n,\) \(class ids\) or \(n, classes\)"),
])
def test_missing_or_misshapen_labels_are_named(make, phrase):
    with pytest.raises(ValueError, match=phrase) as e:
        make(model())
    one_line(e)


# ----------------------------------------------------------------------- data
@pytest.mark.parametrize("make,phrase", [
    (lambda: (X[:0], Y[:0]), r"no examples to train on: x is empty"),
    (lambda: (ds(X[:0], Y[:0]),), r"the dataset is empty"),
    (lambda: (ds(X, Y, batch=0).filter(lambda x, y: y > 100).batch(8),),
     r"fit ran no training step: the data yielded no batches"),
])
def test_empty_data_is_an_error_not_an_empty_history(make, phrase):
    with pytest.raises(ValueError, match=phrase) as e:
        model().fit(*make(), verbose=0)
    one_line(e)


@pytest.mark.parametrize("call,phrase", [
    (lambda m: m.fit(X[:, :3], Y, verbose=0), r"x of shape \(32, 3\)"),
    (lambda m: m.fit(ds(X[:, :3], Y), verbose=0), r"batches of shape \(None, 3\)"),
    (lambda m: m.fit(X, Y, validation_data=(X[:, :3], Y), verbose=0),
     r"`validation_data`: .*x of shape \(32, 3\)"),
    (lambda m: m.evaluate(X[:, :3], Y, verbose=0), r"x of shape \(32, 3\)"),
])
def test_inputs_that_do_not_fit_the_networks_name_both_shapes(call, phrase):
    with pytest.raises(ValueError, match=r"inputs do not fit the networks: each example "
                       r"must have shape \(5,\)") as e:
        call(model())
    assert re.search(phrase, one_line(e))


@pytest.mark.parametrize("validation", [False, True])
def test_an_unbatched_dataset_is_named(validation):
    m = model()
    with pytest.raises(ValueError, match=r"single examples, not batches: add \.batch") as e:
        if validation:
            m.fit(X, Y, validation_data=ds(X, Y, batch=0), verbose=0)
        else:
            m.fit(ds(X, Y, batch=0), verbose=0)
    one_line(e)


def test_channels_first_images_get_the_transpose_hint():
    m = TwinModel(conv(0), conv(1))
    x = np.zeros((8, 3, 6, 6), "float32")
    with pytest.raises(ValueError, match=r"channels-first.*np.transpose") as e:
        m.fit(x, Y[:8], verbose=0)
    one_line(e)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_inputs_fail_before_training(bad):
    x = X.copy()
    x[3, 2] = bad
    m = model()
    with pytest.raises(ValueError, match=r"inputs contain NaN or inf .*first in example 3") as e:
        m.fit(x, Y, verbose=0)
    one_line(e)


@pytest.mark.parametrize("kwargs,phrase", [
    ({"batch_size": 0}, r"`batch_size` must be an integer >= 1"),
    ({"batch_size": -1}, r"`batch_size` must be an integer >= 1"),
    ({"sample_weight": np.ones(N - 2, "float32")}, r"`sample_weight` needs one weight per example"),
    ({"sample_weight": np.full(N, np.nan, "float32")}, r"`sample_weight` must be finite and >= 0"),
    ({"sample_weight": -np.ones(N, "float32")}, r"`sample_weight` must be finite and >= 0"),
])
def test_bad_fit_arguments_are_rejected(kwargs, phrase):
    with pytest.raises(ValueError, match=phrase) as e:
        model().fit(X, Y, verbose=0, **kwargs)
    one_line(e)


@pytest.mark.parametrize("call,phrase", [
    (lambda m: m.fit(ds(X, Y), Y, verbose=0), r"a dataset already holds the labels"),
    (lambda m: m.fit(ds(X, Y), validation_split=0.2, verbose=0),
     r"`validation_split` works with arrays only"),
    (lambda m: m.fit(X.tolist(), Y.tolist(), verbose=0), r"Python list.*np.asarray"),
])
def test_misused_data_arguments_are_named(call, phrase):
    with pytest.raises((ValueError, TypeError), match=phrase) as e:
        call(model())
    one_line(e)


# ----------------------------------------------------------------- divergence
def _diverging_model():
    m = model(alpha=0.5)
    m.compile(optimizer=keras.optimizers.SGD(1e30))
    return m


def test_plain_fit_stops_on_divergence_and_restores_the_start():
    m = _diverging_model()
    start = [w.copy() for w in m.get_weights()]
    with pytest.warns(UserWarning, match=r"Training diverged: loss became non-finite at "
                      r"epoch 1, batch \d+\. Lower alpha .* learning rate") as record:
        history = m.fit(X, Y, batch_size=8, epochs=3, verbose=0)
    assert "from the start of this fit were restored" in str(record[-1].message)
    assert len(history.history["loss"]) == 1  # stopped in the first epoch
    assert all(np.isfinite(w).all() for w in m.get_weights())
    for a, b in zip(start, m.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(m.base_optimizer.iterations.numpy()) == 0


class _BlowUpAtEpoch(keras.callbacks.Callback):
    """Records the weights after epoch 1, then makes epoch 2 diverge."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.after_first = [w.copy() for w in self.model.get_weights()]

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            for opt in (self.model.base_optimizer, self.model.twin_optimizer):
                opt.learning_rate.assign(1e30)


def test_plain_fit_restores_the_last_good_epoch():
    m = model(alpha=0.5)
    m.compile(optimizer=keras.optimizers.SGD(0.1))
    blow_up = _BlowUpAtEpoch()
    with pytest.warns(UserWarning, match=r"at epoch 2, batch .*after epoch 1, the last "
                      r"good one, were restored"):
        m.fit(X, Y, batch_size=8, epochs=4, verbose=0, callbacks=[blow_up])
    for a, b in zip(blow_up.after_first, m.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(m.base_optimizer.iterations.numpy()) == N // 8


def test_nan_from_a_pipeline_is_stopped_by_the_guard():
    x = X.copy()
    x[0, 0] = np.nan
    with pytest.warns(UserWarning, match=r"Training diverged.*check the inputs and labels"):
        model().fit(ds(x, Y), epochs=2, verbose=0)


def test_an_own_divergence_guard_replaces_the_default():
    m = _diverging_model()
    guard = DivergenceGuard()
    m.fit(X, Y, batch_size=8, epochs=2, verbose=0, callbacks=[guard])
    assert guard.diverged_at is not None
    assert not all(np.isfinite(w).all() for w in m.get_weights())  # kept as they were


# ------------------------------------------------------------- silent misuse
def test_a_frozen_twin_at_chance_warns():
    x, y = data(n=256)
    with pytest.warns(UserWarning, match=r"frozen twin is at chance.*load_weights"):
        model(freeze_twin=True).fit(x, y, batch_size=8, verbose=0)


def test_a_frozen_trained_twin_does_not_warn(recwarn):
    x, _ = data(n=256)
    twin = dense(1)
    y = np.argmax(twin.predict(x, verbose=0), -1)  # the twin is right on every example
    TwinModel(dense(0), twin, freeze_twin=True).fit(x, y, batch_size=8, verbose=0)
    assert not [w for w in recwarn if "at chance" in str(w.message)]


def test_matching_that_never_starts_warns():
    with pytest.warns(UserWarning, match=r"matching_start_epoch=5 .* never switches on"):
        model(matching_start_epoch=5).fit(X, Y, epochs=2, verbose=0)
