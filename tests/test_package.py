"""`import keras_tna`: light (no Keras), yet saved TwinModels load as before."""

import textwrap

import pytest

SAVE = textwrap.dedent(
    """
    import sys
    import numpy as np
    import keras
    from keras_tna import TwinModel, make_twin
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model = TwinModel(base, make_twin(base, seed=1))
    model.compile(optimizer="sgd")
    model.fit(np.zeros((8, 4)), np.zeros(8, int), verbose=0)
    model.save(sys.argv[1] if len(sys.argv) > 1 else PATH)
    """
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return tmp_path_factory.mktemp("package") / "twin_model.keras"


def test_import_keras_tna_does_not_import_keras(run_python):
    result = run_python("import sys, keras_tna; print('keras' in sys.modules)")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"


@pytest.mark.large
@pytest.mark.parametrize(
    "imports",
    [
        "import keras, keras_tna",  # Keras first: registered at import
        "import keras_tna, keras; keras_tna.register_saveables()",
    ],
)
def test_saved_twin_model_loads_after_import(run_python, saved, imports):
    if not saved.exists():
        made = run_python(f"PATH = {str(saved)!r}\n" + SAVE)
        assert made.returncode == 0, made.stderr[-2000:]
    result = run_python(
        f"{imports}\nmodel = keras.saving.load_model({str(saved)!r})\n"
        "print(type(model).__name__, model.alpha)"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["TwinModel", "0.005"]
