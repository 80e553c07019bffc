"""The Colab notebooks in notebooks/: structure checks, and a smoke run of each.

The fast tests read the notebooks as files: the Colab badge, the guarded install
cell, the runtime detection, the tagged parameters cell, stripped outputs, no
training loops or re-implemented library functions, links and flagfiles that
exist. The slow tests execute every notebook top to bottom with nbclient in its
smoke setting (`SMOKE = True`, the bundled digits) and fail on any error.
"""

import ast
import os
import pathlib
import re
import time

import nbformat
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
EXPECTED = [
    "01_quickstart.ipynb",
    "02_alpha.ipynb",
    "03_what_kind_of_twin.ipynb",
    "04_relatives.ipynb",
    "05_why_it_works.ipynb",
]
ORG_REPO = "keras-tna/keras_tna"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
# A training loop or a train step written in a notebook: notebooks call the
# library (TwinModel.fit, keras_tna.training) instead.
TRAINING_LOOP_NAMES = {
    "GradientTape",
    "apply_gradients",
    "train_step",
    "test_step",
    "train_on_batch",
    "minimize",
    "value_and_grad",
}
# Per-cell limit of a smoke run (the whole notebook is meant to take about a
# minute on 2 CPU cores).
CELL_TIMEOUT_S = 600


def _read(path):
    return nbformat.read(path, as_version=4)


def _code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _python_source(source):
    """The cell's source with IPython magics turned into Python calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _tree(cell):
    return ast.parse(_python_source(cell.source))


def _assigned_constants(tree):
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and isinstance(node.value, ast.Constant):
                values[target.id] = node.value.value
    return values


def _parameters_cell(nb):
    tagged = [
        cell
        for cell in _code_cells(nb)
        if "parameters" in cell.metadata.get("tags", [])
    ]
    assert len(tagged) == 1, "exactly one code cell must be tagged 'parameters'"
    return tagged[0]


def _magic_calls(tree):
    """(magic name, argument string) of every get_ipython().run_line_magic call."""
    calls = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("run_line_magic", "system", "getoutput")
        ):
            args = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if node.func.attr == "run_line_magic" and len(args) == 2:
                calls.append((args[0], args[1]))
            elif args:
                calls.append(("!", args[0]))
    return calls


def test_the_five_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_opens_with_a_colab_badge_for_itself(path):
    first = _read(path).cells[0]
    assert first.cell_type == "markdown"
    url = (
        "https://colab.research.google.com/github/"
        f"{ORG_REPO}/blob/main/notebooks/{path.name}"
    )
    assert f"[![Open In Colab]({BADGE_IMAGE})]({url})" in first.source
    assert first.source.lstrip().startswith("# "), "the first cell opens with a title"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_installs_only_when_keras_tna_is_missing(path):
    cell = _code_cells(_read(path))[0]
    tree = _tree(cell)
    tries = [node for node in tree.body if isinstance(node, ast.Try)]
    assert len(tries) == 1, "the install is guarded by try: import keras_tna"
    guard = tries[0]
    assert any(
        isinstance(node, ast.Import) and node.names[0].name == "keras_tna"
        for node in guard.body
    )
    (handler,) = guard.handlers
    assert isinstance(handler.type, ast.Name) and handler.type.id == "ImportError"
    # Nothing outside the handler touches the network.
    outside = ast.Module(body=[n for n in tree.body if n is not guard], type_ignores=[])
    assert _magic_calls(outside) == [] and _magic_calls(
        ast.Module(body=guard.body, type_ignores=[])
    ) == []
    installs = [
        arg
        for magic, arg in _magic_calls(ast.Module(body=handler.body, type_ignores=[]))
        if magic == "pip"
    ]
    assert len(installs) == 1 and installs[0].startswith("install")
    handler_text = ast.unparse(handler)
    assert f"https://github.com/{ORG_REPO}" in handler_text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_detects_the_accelerator_before_anything_runs(path):
    runtime = _python_source(_code_cells(_read(path))[1].source)
    assert 'list_physical_devices("GPU")' in runtime
    assert "TPUClusterResolver" in runtime


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_switches_smoke_and_paper(path):
    nb = _read(path)
    cell = _parameters_cell(nb)
    assert _code_cells(nb).index(cell) == 2, "parameters come right after the set-up"
    values = _assigned_constants(_tree(cell))
    required = {"SMOKE": True, "CIFAR10_DIR": None, "RUNS_DIR": "runs"}
    assert {k: values.get(k, "<missing>") for k in required} == required
    assert set(values) - set(required) <= {"TINYIMAGENET_DIR"}
    assert values.get("TINYIMAGENET_DIR") is None
    later = "\n".join(c.source for c in _code_cells(nb)[3:])
    assert "SMOKE" in later and "CIFAR10_DIR" in later and "RUNS_DIR" in later


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_are_stripped(path):
    nb = _read(path)
    for cell in _code_cells(nb):
        assert cell.outputs == [], f"stored outputs in: {cell.source[:60]!r}"
        assert cell.execution_count is None
    assert path.stat().st_size < 60_000, "the notebook file stays small"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_tells_a_story(path):
    nb = _read(path)
    kinds = [cell.cell_type for cell in nb.cells]
    markdown_words = sum(
        len(cell.source.split()) for cell in nb.cells if cell.cell_type == "markdown"
    )
    assert kinds.count("markdown") >= 6
    assert markdown_words >= 400, "prose, not a dump of cells"
    # No two code cells in a row without prose after the set-up cells.
    body = kinds[kinds.index("code") + 4 :]
    runs = "".join("c" if k == "code" else "m" for k in body)
    assert "ccc" not in runs, "explain the code between cells"


def _library_function_names():
    import keras_tna
    from keras_tna import analysis, data, models, reporting, training

    names = set()
    for module in (keras_tna, analysis, data, models, reporting, training):
        names |= {n for n in dir(module) if not n.startswith("_")}
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_calls_the_library_instead_of_reimplementing_it(path):
    library = _library_function_names()
    for cell in _code_cells(_read(path)):
        tree = _tree(cell)
        used = {
            node.attr if isinstance(node, ast.Attribute) else node.id
            for node in ast.walk(tree)
            if isinstance(node, (ast.Attribute, ast.Name))
        }
        assert not used & TRAINING_LOOP_NAMES, f"a training loop in: {cell.source[:80]!r}"
        defined = {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))
        }
        assert not defined & library, (
            f"{sorted(defined & library)} re-defines keras_tna functions; call them"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_links_and_flagfiles_exist(path):
    nb = _read(path)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for target in re.findall(r"\]\(([^)#]+\.ipynb)\)", cell.source):
                if not target.startswith("http"):
                    assert (NOTEBOOK_DIR / target).is_file(), target
        else:
            for node in ast.walk(_tree(cell)):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "flagfile"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    config = REPO / "configs" / node.args[0].value
                    assert config.is_file(), f"{config} does not exist"
        for target in re.findall(r"configs/[\w./-]+\.flags", cell.source):
            assert (REPO / target).is_file(), f"{target} does not exist"


def test_readme_lists_every_notebook_with_its_badge():
    readme = (NOTEBOOK_DIR / "README.md").read_text()
    for path in NOTEBOOKS:
        url = (
            "https://colab.research.google.com/github/"
            f"{ORG_REPO}/blob/main/notebooks/{path.name}"
        )
        assert url in readme, path.name
    assert "keras-tna" in readme and "org" in readme.lower()


# ---------------------------------------------------------------- smoke runs
def smoke_run(path, workdir, timeout=CELL_TIMEOUT_S):
    """Executes a notebook in its smoke setting in `workdir`; returns it executed.

    The parameters are injected the way papermill does it: a cell after the
    tagged one sets them (the bundled digits, runs written under `workdir`).
    """
    from nbclient import NotebookClient

    nb = _read(path)
    cell = _parameters_cell(nb)
    injected = nbformat.v4.new_code_cell(
        "# Parameters injected by tests/test_notebooks.py\n"
        f"SMOKE = True\nCIFAR10_DIR = None\nRUNS_DIR = {str(workdir / 'runs')!r}\n"
    )
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(nb.cells.index(cell) + 1, injected)
    env_before = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    try:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(workdir)}},
        )
        client.execute()
    finally:
        if env_before is None:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = env_before
    return nb


def _outputs_text(nb):
    texts = []
    for cell in _code_cells(nb):
        for output in cell.outputs:
            if output.output_type == "stream":
                texts.append(output.text)
            elif "data" in output:
                texts.append(str(output.data.get("text/plain", "")))
    return "\n".join(texts)


@pytest.mark.large
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom_in_the_smoke_setting(path, tmp_path):
    start = time.time()
    nb = smoke_run(path, tmp_path)
    seconds = time.time() - start
    images = sum(
        1
        for cell in _code_cells(nb)
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    )
    assert images >= 1, "the notebook draws its plots inline"
    text = _outputs_text(nb)
    assert "Traceback" not in text
    print(f"{path.name}: {seconds:.0f} s, {images} plots")
