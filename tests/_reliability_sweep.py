"""Feeds TwinModel about 70 bad inputs and records what each one gets.

Not a test (the pinned tests are in `test_twin_model_inputs.py`): it builds
the table of `docs/reliability.md`. Run it against any copy of keras_tna:

    PYTHONPATH=. python tests/_reliability_sweep.py --out /tmp/new.json
    PYTHONPATH=/path/to/old python tests/_reliability_sweep.py --out old.json
    python tests/_reliability_sweep.py --table old.json new.json

An outcome is "own" when keras_tna answers in one line: an exception raised
from keras_tna's code whose message is a single line and matches the case's
expected phrase, or a warning matching it, or (for a valid input listed
because an earlier version mishandled it) a run that trains with finite
losses.
"""

import argparse
import json
import math
import os
import re
import sys
import traceback
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CASES = []


def case(group, name, expect, valid=False):
    """Registers a bad input: `expect` is a regex the answer must match."""

    def register(fn):
        CASES.append(dict(group=group, name=name, expect=expect, valid=valid, fn=fn))
        return fn

    return register


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--table", nargs=2, metavar=("OLD", "NEW"))
    parser.add_argument("-k", default="")
    args = parser.parse_args()
    if args.table:
        print(table(*args.table))
        return
    define_cases()
    results = []
    for c in CASES:
        if args.k and args.k not in c["name"]:
            continue
        results.append(run_case(c))
        r = results[-1]
        print(f"[{'own' if r['own'] else '---'}] {c['name']}: {r['summary']}",
              flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    own = sum(r["own"] for r in results)
    print(f"{own}/{len(results)} got keras_tna's own one-line answer")


def run_case(c):
    import keras

    keras.utils.clear_session()
    result = dict(group=c["group"], name=c["name"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ran = c["fn"]()
            error = None
        except Exception as e:  # noqa: BLE001 - we record every failure
            error = e
    msgs = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    msgs = [m for m in msgs if re.search(c["expect"], m, re.I | re.S)]
    if error is not None:
        text = str(error)
        frames = traceback.extract_tb(error.__traceback__)
        ours = bool(frames) and "keras_tna" in frames[-1].filename
        one_line = "\n" not in text.strip() and len(text) < 600
        matches = bool(re.search(c["expect"], text, re.I | re.S))
        result.update(
            kind=type(error).__name__,
            summary=f"{type(error).__name__}: {_first(text)}"
            + (f" [{text.count(chr(10)) + 1} lines]" if not one_line else ""),
            own=ours and one_line and matches and not c["valid"],
        )
    elif msgs and not c["valid"]:
        result.update(kind="warning", summary=f"warning: {_first(msgs[0])}", own=True)
    else:
        result.update(kind="ran", summary=_describe_run(ran), own=bool(
            c["valid"] and _finite_run(ran)))
    return result


def _first(text, limit=170):
    line = text.strip().splitlines()[0] if text.strip() else "(empty message)"
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _finite_run(ran):
    history = getattr(ran, "history", None)
    if not history:
        return False
    return all(math.isfinite(v) for v in history.get("loss", [float("nan")]))


def _describe_run(ran):
    history = getattr(ran, "history", None)
    if history is None:
        return "silent: no error, no warning"
    if not history:
        return "silent: fit returned an empty history {}"
    loss = history.get("loss", [None])[-1]
    return f"silent: trained, last loss {loss:.4g}" if loss is not None else "silent"


# ---------------------------------------------------------------------- cases
def define_cases():
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_tna import TwinModel

    D, C, N = 5, 4, 32
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D)).astype("float32")
    Y = rng.integers(0, C, size=N).astype("int32")
    ONEHOT = np.eye(C, dtype="float32")[Y]

    from _tiny_nets import conv, dense  # tests/_tiny_nets.py

    def model(**kw):
        return TwinModel(dense(0), dense(1), **kw)

    def ds(x, y=None, batch=8):
        items = (x,) if y is None else (x, y)
        d = tf.data.Dataset.from_tensor_slices(items if y is not None else x)
        return d.batch(batch) if batch else d

    def fit(m, *a, **kw):
        kw.setdefault("epochs", 1)
        kw.setdefault("verbose", 0)
        if not any(isinstance(v, tf.data.Dataset) for v in a):
            kw.setdefault("batch_size", 8)
        return m.fit(*a, **kw)

    # ------------------------------------------------------------- arguments
    A = "arguments"
    case(A, "alpha=inf", r"alpha.*(finite|number)")(lambda: fit(model(alpha=float("inf")), X, Y))
    case(A, "alpha=True", r"alpha.*(bool|number)")(lambda: fit(model(alpha=True), X, Y))
    case(A, "alpha=nan", r"alpha")(lambda: model(alpha=float("nan")))
    case(A, "alpha=-1", r"alpha.*>= 0")(lambda: model(alpha=-1.0))
    case(A, "alpha='5e-3' (a string)", r"alpha.*number")(lambda: model(alpha="5e-3"))
    case(A, "alpha=np.int64(0) (valid)", r".", valid=True)(
        lambda: fit(model(alpha=np.int64(0)), X, Y))
    case(A, "temperature='hot' with dml", r"temperature")(
        lambda: model(matching="dml", temperature="hot"))
    case(A, "temperature=0 with dml", r"temperature.*(positive|> 0)")(
        lambda: model(matching="dml", temperature=0))
    case(A, "temperature=inf with dml", r"temperature.*finite")(
        lambda: fit(model(matching="dml", temperature=float("inf")), X, Y))
    case(A, "freeze_twin='no' (a string)", r"freeze_twin.*(bool|True or False)")(
        lambda: model(freeze_twin="no"))
    case(A, "matching_start_epoch=None", r"matching_start_epoch.*integer")(
        lambda: model(matching_start_epoch=None))
    case(A, "matching_start_epoch=1.5", r"matching_start_epoch.*integer")(
        lambda: model(matching_start_epoch=1.5))
    case(A, "matching='cosine'", r"matching")(lambda: model(matching="cosine"))
    case(A, "twin is base", r"same object")(lambda: (lambda b: TwinModel(b, b))(dense()))
    case(A, "twin shares weights with base", r"shares weights")(
        lambda: (lambda b: TwinModel(b, keras.Sequential([b])))(dense()))
    case(A, "twin is a string", r"keras.Model")(lambda: TwinModel(dense(), "twin"))
    case(A, "base is a function", r"keras.Model")(lambda: TwinModel(lambda x: x, dense()))
    case(A, "twin has another number of classes", r"same shape")(
        lambda: TwinModel(dense(0), dense(1, c=C + 1)))
    case(A, "twin has another input shape", r"input")(
        lambda: fit(TwinModel(dense(0), dense(1, d=D + 1)), X, Y))
    case(A, "base ends in softmax", r"softmax")(lambda: TwinModel(dense(0, softmax=True), dense(1)))

    # --------------------------------------------------------------- compile
    K = "compile"

    def shared_optimizer():
        opt = keras.optimizers.Adam()
        m1, m2 = model(), model()
        m1.compile(optimizer=opt)
        fit(m1, X, Y)
        m2.compile(optimizer=opt)
        return fit(m2, X, Y)

    def shared_before_fit():
        opt = keras.optimizers.SGD(0.1)
        m1, m2 = model(), model()
        m1.compile(optimizer=opt)
        m2.compile(optimizer=opt)
        fit(m1, X, Y)
        return fit(m2, X, Y)

    def twin_optimizer_of_other():
        m1 = model()
        fit(m1, X, Y)
        m2 = model()
        m2.compile(twin_optimizer=m1.twin_optimizer)
        return fit(m2, X, Y)

    def optimizer_of_plain_model():
        opt = keras.optimizers.Adam()
        plain = dense()
        plain.compile(optimizer=opt, loss="mse")
        plain.fit(X, ONEHOT, verbose=0)
        m = model()
        m.compile(optimizer=opt)
        return fit(m, X, Y)

    def compile_with(**kw):
        m = model()
        m.compile(**kw)
        return fit(m, X, Y)

    case(K, "one optimizer compiled into two TwinModels", r"optimizer.*(another|other|one)")(shared_optimizer)
    case(K, "one optimizer in two TwinModels, both compiled before fit",
         r"optimizer.*(another|other|one)")(shared_before_fit)
    case(K, "twin_optimizer taken from another TwinModel", r"optimizer.*(another|other)")(
        twin_optimizer_of_other)
    case(K, "optimizer used by a plain keras model first", r"optimizer.*(another|other)")(
        optimizer_of_plain_model)
    case(K, "twin_optimizer is optimizer", r"same object")(
        lambda: (lambda o: compile_with(optimizer=o, twin_optimizer=o))(keras.optimizers.SGD()))
    case(K, "optimizer='sgdd' (a typo)", r"optimizer")(lambda: compile_with(optimizer="sgdd"))
    case(K, "loss='sparse_categorical_crossentropy' (a string)", r"loss.*keras.losses.Loss")(
        lambda: compile_with(loss="sparse_categorical_crossentropy"))
    case(K, "loss with from_logits=False", r"from_logits")(
        lambda: compile_with(loss=keras.losses.SparseCategoricalCrossentropy()))
    # metrics=['accuracy'] is valid since issue 19 (reported per network).
    case(K, "metrics=['no_such_metric'] (a typo)", r"metrics. must hold keras metrics")(
        lambda: compile_with(metrics=["no_such_metric"]))
    case(K, "twin_optimizer with freeze_twin=True", r"freeze_twin")(
        lambda: (lambda m: (m.compile(twin_optimizer=keras.optimizers.SGD()), fit(m, X, Y))[1])(
            model(freeze_twin=True)))

    # ---------------------------------------------------------------- labels
    L = "labels"
    cce = keras.losses.CategoricalCrossentropy(from_logits=True)
    scce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    case(L, "one-hot labels, default loss (arrays, valid)", r".", valid=True)(
        lambda: fit(model(), X, ONEHOT))
    case(L, "one-hot labels, default loss (tf.data, valid)", r".", valid=True)(
        lambda: fit(model(), ds(X, ONEHOT)))
    case(L, "integer labels with CategoricalCrossentropy", r"(one-hot|integer).*Sparse")(
        lambda: compile_with_labels(cce, Y))
    case(L, "integer labels with CategoricalCrossentropy (tf.data)", r"(one-hot|integer).*Sparse")(
        lambda: compile_with_labels(cce, None, data=ds(X, Y)))
    case(L, "one-hot labels with SparseCategoricalCrossentropy", r"one-hot.*Categorical")(
        lambda: compile_with_labels(scce, ONEHOT))

    def compile_with_labels(loss, labels, data=None):
        m = model()
        m.compile(loss=loss)
        return fit(m, data) if data is not None else fit(m, X, labels)

    bad = Y.copy()
    bad[5] = C + 3
    neg = Y.copy()
    neg[3] = -1
    case(L, "labels out of range (arrays)", r"class ids in \[0, 4\)")(lambda: fit(model(), X, bad))
    case(L, "labels out of range (tf.data)", r"(class ids|labels).*\[0, 4\)")(
        lambda: fit(model(), ds(X, bad)))
    case(L, "negative labels (tf.data)", r"(class ids|labels).*\[0, 4\)")(
        lambda: fit(model(), ds(X, neg)))
    case(L, "labels out of range in validation_data", r"(class ids|labels).*\[0, 4\)")(
        lambda: fit(model(), X, Y, validation_data=(X, bad)))
    fl = Y.astype("float32") + 0.5
    case(L, "float labels 0.5, 1.5, ... (arrays)", r"(float|integer).*(truncat|class ids)")(
        lambda: fit(model(), X, fl))
    case(L, "float labels 0.5, 1.5, ... (tf.data)", r"(float|integer).*(truncat|class ids)")(
        lambda: fit(model(), ds(X, fl)))
    case(L, "integer-valued float labels (valid)", r".", valid=True)(
        lambda: fit(model(), X, Y.astype("float32")))
    case(L, "labels of shape (n, 1) (valid)", r".", valid=True)(lambda: fit(model(), X, Y[:, None]))
    names = np.array(["cat", "dog", "eel", "fox"])[Y]
    case(L, "string labels (arrays)", r"string.*(integer|class ids)")(lambda: fit(model(), X, names))
    case(L, "string labels (tf.data)", r"string.*(integer|class ids)")(
        lambda: fit(model(), ds(X, names)))
    case(L, "dataset yields x only, no labels", r"(no labels|labels)")(lambda: fit(model(), ds(X)))
    case(L, "fit(x) with arrays and no y", r"(no labels|needs labels|labels)")(
        lambda: model().fit(X, epochs=1, verbose=0))
    case(L, "dataset yields dicts (tfds as_supervised=False)", r"dict.*(\(x, y\)|as_supervised)")(
        lambda: fit(model(), tf.data.Dataset.from_tensor_slices({"image": X, "label": Y}).batch(8)))
    case(L, "one-hot labels of the wrong width", r"One-hot labels have 5 classes")(
        lambda: fit(model(), X, np.eye(C + 1, dtype="float32")[Y]))
    case(L, "y has fewer rows than x", r"(examples|rows|samples).*(x|y)")(
        lambda: fit(model(), X, Y[:-3]))
    case(L, "labels of shape (n, 2, 2)", r"shape \(n,\)")(
        lambda: fit(model(), X, np.zeros((N, 2, 2), "int32")))

    # ------------------------------------------------------------------ data
    T = "data"
    case(T, "empty arrays", r"(empty|no (examples|samples|batches))")(
        lambda: fit(model(), X[:0], Y[:0]))
    case(T, "empty tf.data dataset", r"(empty|no (examples|batches))")(
        lambda: fit(model(), ds(X[:0], Y[:0])))
    case(T, "tf.data dataset emptied by a filter", r"(empty|no (examples|batches))")(
        lambda: fit(model(), ds(X, Y, batch=0).filter(lambda x, y: y > 100).batch(8)))
    case(T, "inputs of the wrong width (arrays)", r"(input|shape).*\(.*5")(
        lambda: fit(model(), X[:, :3], Y))
    case(T, "inputs of the wrong width (tf.data)", r"(input|shape).*\(.*5")(
        lambda: fit(model(), ds(X[:, :3], Y)))
    case(T, "inputs of the wrong width (evaluate)", r"(input|shape).*\(.*5")(
        lambda: (lambda m: (fit(m, X, Y), m.evaluate(X[:, :3], Y, verbose=0)))(model()))
    gray = rng.normal(size=(N, 8, 8)).astype("float32")
    case(T, "grayscale images without a channel axis (valid: keras adds it)", r".",
         valid=True)(
        lambda: fit(TwinModel(conv(0, (8, 8, 1)), conv(1, (8, 8, 1))), gray, Y))
    case(T, "channels-first images", r"channel")(
        lambda: fit(TwinModel(conv(0, (8, 8, 3)), conv(1, (8, 8, 3))),
                    rng.normal(size=(N, 3, 8, 8)).astype("float32"), Y))
    case(T, "unbatched tf.data dataset", r"batch")(lambda: fit(model(), ds(X, Y, batch=0)))
    nan_x = X.copy()
    nan_x[2, 1] = np.nan
    inf_x = X.copy()
    inf_x[4, 0] = np.inf
    case(T, "NaN in the inputs (arrays)", r"(NaN|non-finite)")(lambda: fit(model(), nan_x, Y))
    case(T, "inf in the inputs (arrays)", r"(NaN|inf|non-finite)")(lambda: fit(model(), inf_x, Y))
    case(T, "NaN in the inputs (tf.data)", r"(NaN|non-finite|diverged)")(
        lambda: fit(model(), ds(nan_x, Y)))

    def diverging():
        m = model(alpha=0.5)
        m.compile(optimizer=keras.optimizers.SGD(1e30))
        return fit(m, X, Y, epochs=3)

    case(T, "loss diverges (learning rate 1e30)", r"(diverged|non-finite)")(diverging)
    case(T, "string inputs", r"(string|numeric|dtype)")(
        lambda: fit(model(), np.array([["a"] * D] * N), Y))
    case(T, "batch_size=0", r"batch_size")(lambda: model().fit(X, Y, batch_size=0, verbose=0))
    case(T, "batch_size=-1", r"batch_size")(lambda: model().fit(X, Y, batch_size=-1, verbose=0))
    case(T, "sample_weight of the wrong length", r"sample_weight")(
        lambda: fit(model(), X, Y, sample_weight=np.ones(N - 2, "float32")))
    case(T, "sample_weight with NaN", r"sample_weight")(
        lambda: fit(model(), X, Y, sample_weight=np.full(N, np.nan, "float32")))
    case(T, "negative sample_weight", r"sample_weight")(
        lambda: fit(model(), X, Y, sample_weight=-np.ones(N, "float32")))
    case(T, "validation_data of the wrong input width", r"validation.*(input|shape)")(
        lambda: fit(model(), X, Y, validation_data=(X[:, :3], Y)))
    case(T, "validation_data=(x,) without labels", r"validation")(
        lambda: fit(model(), X, Y, validation_data=(X,)))
    case(T, "validation_data an unbatched dataset", r"validation.*batch")(
        lambda: fit(model(), X, Y, validation_data=ds(X, Y, batch=0)))
    case(T, "fit(dataset, y=labels)", r"(y|labels)")(lambda: fit(model(), ds(X, Y), Y))
    case(T, "validation_split with a dataset", r"validation_split")(
        lambda: fit(model(), ds(X, Y), validation_split=0.2))
    case(T, "x a Python list of rows", r"np.asarray")(
        lambda: fit(model(), X.tolist(), Y.tolist()))

    case(T, "validation labels one-hot, training labels ids (valid)", r".", valid=True)(
        lambda: fit(model(), X, Y, validation_data=(X, ONEHOT)))
    case(T, "evaluate with string labels", r"string.*(integer|class ids)")(
        lambda: model().evaluate(X, names, verbose=0))
    case(T, "uint8 inputs (valid)", r".", valid=True)(
        lambda: fit(model(), (X * 10 + 100).astype("uint8"), Y))

    # --------------------------------------------------------------- warnings
    W = "silent misuse"

    def frozen_chance():
        m = TwinModel(dense(0), dense(1), freeze_twin=True)
        return fit(m, np.tile(X, (8, 1)), np.tile(Y, 8), epochs=1)

    case(W, "freeze_twin=True with an untrained twin", r"(chance|untrained|pretrained)")(frozen_chance)
    case(W, "matching_start_epoch >= epochs", r"matching_start_epoch")(
        lambda: fit(model(matching_start_epoch=5), X, Y, epochs=2))


def table(old_path, new_path):
    with open(old_path) as f:
        old = {r["name"]: r for r in json.load(f)}
    with open(new_path) as f:
        new = json.load(f)
    lines = ["| # | Group | Bad input | Before | Now |", "|---|---|---|---|---|"]
    for i, r in enumerate(new, 1):
        o = old.get(r["name"], {"summary": "(not run)", "own": False})
        mark = lambda x: ("✅ " if x["own"] else "❌ ") + x["summary"].replace("|", "\\|")
        lines.append(f"| {i} | {r['group']} | {r['name']} | {mark(o)} | {mark(r)} |")
    n_old = sum(old.get(r["name"], {}).get("own", False) for r in new)
    n_new = sum(r["own"] for r in new)
    lines.append("")
    lines.append(f"Before: {n_old}/{len(new)}. Now: {n_new}/{len(new)}.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
