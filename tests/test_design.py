"""docs/DESIGN.md held to the code: modules, who imports whom, import routes, sizes.

Each test reads a section of docs/DESIGN.md and the package's source (with
`ast`, nothing is imported), so the document cannot drift silently: a new
module needs its line in "## Modules", a new package its place in "## Who may
import whom".
"""

import ast
import functools
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "keras_tna"
DESIGN = (ROOT / "docs" / "DESIGN.md").read_text()
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _section(title):
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", DESIGN, re.M | re.S)
    assert match, f"docs/DESIGN.md has no section '## {title}'"
    return match.group(1)


def _relative(path):
    return path.relative_to(PACKAGE).as_posix()


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module):
    """The package part a module belongs to: `keras_tna.runs.store` -> `runs`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_module(module):
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _file_of(module):
    path = ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _keras_tna_imports(path):
    """(node, imported module, name or None, inside a function) of every keras_tna import."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "keras_tna":
                        found.append((child, alias.name, None, in_function))
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and (
                (child.module or "").split(".")[0] == "keras_tna"
            ):
                for alias in child.names:
                    sub = f"{child.module}.{alias.name}"
                    if _is_module(sub):
                        found.append((child, sub, None, in_function))
                    else:
                        found.append((child, child.module, alias.name, in_function))
            visit(child, inner)

    visit(tree, False)
    return found


# ---------------------------------------------------------------- modules
def test_every_module_is_listed_and_every_listed_module_exists():
    # Each "- " line names its modules before the first ": ".
    items = [
        line.split(": ")[0]
        for line in _section("Modules").splitlines()
        if line.startswith("- ")
    ]
    listed = set(re.findall(r"`([\w/]+\.py)`", "\n".join(items)))
    actual = {_relative(p) for p in SOURCES if p.name != "__init__.py"}
    assert actual - listed == set(), "modules missing from docs/DESIGN.md '## Modules'"
    assert listed - actual == set(), "docs/DESIGN.md lists modules that do not exist"


def test_no_module_is_over_the_size_limit():
    limit = int(re.search(r"over (\d+) lines", _section("Sizes")).group(1))
    sizes = {
        p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines())
        for p in [*SOURCES, *(ROOT / "apps").glob("*.py")]
    }
    assert {name: n for name, n in sizes.items() if n > limit} == {}


# ---------------------------------------------------------------- layers
def _layers():
    layers = {}
    for number, line in re.findall(r"^(\d+)\. (.*)$", _section("Who may import whom"), re.M):
        for unit in re.findall(r"`([\w.]+)`", line.split(":")[0]):
            assert unit not in layers, f"{unit} is in two layers"
            layers[unit] = int(number)
    return layers


def test_every_part_of_the_package_has_a_layer():
    units = {_unit(_module_name(p)) for p in SOURCES}
    assert units - set(_layers()) == set(), "parts missing from '## Who may import whom'"
    assert set(_layers()) - units == set(), "'## Who may import whom' names parts that do not exist"


def test_imports_only_go_down_the_layers():
    layers = _layers()
    upward = []
    for path in SOURCES:
        mine = _unit(_module_name(path))
        for node, module, _, _ in _keras_tna_imports(path):
            theirs = _unit(module)
            if theirs != mine and layers[theirs] >= layers[mine]:
                upward.append(f"{_relative(path)}:{node.lineno} {mine} -> {theirs}")
    assert upward == []


def test_apps_import_only_cli():
    for path in (ROOT / "apps").glob("*.py"):
        for _, module, _, _ in _keras_tna_imports(path):
            assert module.startswith("keras_tna.cli"), (path.name, module)


# ---------------------------------------------------------------- one route per name
def test_no_private_module_of_another_package_is_imported():
    crossing = []
    for path in SOURCES:
        mine = _unit(_module_name(path))
        for node, module, name, _ in _keras_tna_imports(path):
            private = any(part.startswith("_") for part in module.split(".")[1:])
            if private and _unit(module) != mine:
                crossing.append(f"{_relative(path)}:{node.lineno} {module}")
    assert crossing == []


@functools.lru_cache(maxsize=None)  # asked once per import: parse each file once
def _defined_names(path):
    """Names a module defines itself (def, class, assignment), not those it imports."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        names.add(leaf.id)
    return names


def test_names_are_imported_from_the_module_that_defines_them():
    # Package __init__s are the public routes for users; inside the package a
    # name comes from its own module, so each name has one route in the code.
    indirect = []
    for path in SOURCES:
        for node, module, name, _ in _keras_tna_imports(path):
            if name is not None and name not in _defined_names(_file_of(module)):
                indirect.append(f"{_relative(path)}:{node.lineno} {module}.{name}")
    assert indirect == []


INITS = [p for p in SOURCES if p.name == "__init__.py"]
# Where users read and write keras_tna's names: every route they see is one of these.
OUTSIDE = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    *sorted((ROOT / "notebooks").glob("*.ipynb")),
    *sorted((ROOT / "tests").glob("*.py")),
    *sorted((ROOT / "benchmarks").glob("*.py")),
    *sorted((ROOT / "apps").glob("*.py")),
    *SOURCES,  # docstrings and comments
]


def _all_of(tree):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return [elt.value for elt in node.value.elts]
    return None


def _exports(path):
    """{name in `__all__`: the module defining it} of a package `__init__.py`.

    A name comes from the `__init__` itself, a `from keras_tna... import`, or
    the `lazy_attributes(__name__, {module: (names, ...)}, ...)` table;
    submodules listed in `__all__` are left out.
    """
    tree = ast.parse(path.read_text())
    package = _module_name(path)
    sources = {name: package for name in _defined_names(path)}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras_tna"):
            for alias in node.names:
                if not _is_module(f"{node.module}.{alias.name}"):
                    sources[alias.asname or alias.name] = node.module
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "lazy_attributes":
            table = call.args[1]
            for module, names in zip(table.keys, table.values):
                for name in names.elts:
                    sources[name.value] = module.value
    exported = {}
    for name in _all_of(tree) or []:
        if _is_module(f"{package}.{name}"):
            continue
        assert name in sources, f"{_relative(path)}: __all__ names {name!r}, which it lacks"
        exported[name] = sources[name]
    return exported


def test_every_package_lists_its_public_names_in_all():
    missing = [_relative(p) for p in INITS if _all_of(ast.parse(p.read_text())) is None]
    assert missing == []
    # A name imported into an __init__ is public (in __all__) or used there.
    for path in INITS:
        tree = ast.parse(path.read_text())
        public = set(_all_of(tree))
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras_tna"):
                for alias in node.names:
                    name = alias.asname or alias.name
                    if _is_module(f"{node.module}.{alias.name}"):
                        continue
                    assert not name.startswith("_"), f"{_relative(path)} re-exports {name}"
                    assert name in public or name in used, f"{_relative(path)}: {name}"


def _public_routes():
    """{(defining module, name): [packages whose __all__ lists it]}."""
    routes = {}
    for path in INITS:
        for name, module in _exports(path).items():
            routes.setdefault((module, name), []).append(_module_name(path))
    return routes


def test_every_public_name_has_one_route():
    twice = {key: packages for key, packages in _public_routes().items() if len(packages) > 1}
    assert twice == {}


def test_docs_notebooks_and_tests_use_the_one_route():
    # `keras_tna.<package>.<name>` and `from keras_tna.<package> import <name>`
    # name only the package whose __all__ lists it (or the defining module).
    routes = _public_routes()
    packages = {}
    for (module, name), where in routes.items():
        packages.setdefault(name, set()).update({*where, module})
    # Names that two objects share (`data.available`, `models.available`) are left out.
    names = {name for name in packages if [n for _, n in routes].count(name) == 1}
    wrong = []
    for path in OUTSIDE:
        text = path.read_text()
        dotted = re.findall(r"\b(keras_tna(?:\.\w+)*)\.(\w+)\b", text)
        imported = [
            (module, name.strip().split(" as ")[0])
            for module, names in re.findall(
                r"from (keras_tna(?:\.\w+)*) import \(?([\w, \n]+)\)?", text)
            for name in names.split(",") if name.strip()
        ]
        if path in SOURCES:
            imported = []  # inside the package: the defining module (test above)
        for module, name in dotted + imported:
            if (name in names and module not in packages[name]
                    and not _is_module(f"{module}.{name}")):
                wrong.append(f"{path.relative_to(ROOT)}: {module}.{name}")
    assert wrong == []


def test_modules_import_only_what_they_use():
    # A module that imports a name it does not use is re-exporting it: only a
    # package __init__ may (its public names).
    unused = []
    for path in SOURCES:
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    bound = (alias.asname or alias.name).split(".")[0]
                    if bound not in used and alias.name != "*":
                        unused.append(f"{_relative(path)}:{node.lineno} {bound}")
    assert unused == []


def test_imports_inside_functions_say_why():
    # An import inside a function hides a tie from the graph: it must name the
    # cycle or the optional dependency (TensorFlow, matplotlib...) that forces it.
    silent = []
    for path in SOURCES:
        lines = path.read_text().splitlines()
        for node, module, _, in_function in _keras_tna_imports(path):
            if not in_function:
                continue
            here = lines[node.lineno - 1]
            above = lines[node.lineno - 2].strip()
            if "#" not in here and not above.startswith("#"):
                silent.append(f"{_relative(path)}:{node.lineno} {module}")
    assert silent == []


# ---------------------------------------------------------------- owners
def _method_names():
    """The names of `methods.METHODS` (its `Method("name", ...)` entries)."""
    tree = ast.parse((PACKAGE / "methods.py").read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Method"
        and node.args and isinstance(node.args[0], ast.Constant)
    }


def test_only_methods_py_compares_with_a_method_name():
    claim = re.search(
        r"`methods\.py` is the only module that compares a value with a method's name"
        r"\s*\((.*?)\)", _section("Owners"), re.S,
    )
    assert claim, "'## Owners' no longer says who branches on method names"
    other_vocabularies = set(re.findall(r"`(\w+\.py)`", claim.group(1)))
    names = _method_names()
    assert {"single", "tna", "ensemble"} <= names
    branching = []
    for path in SOURCES:
        if _relative(path) in {"methods.py", *other_vocabularies}:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
            elif isinstance(node, ast.Dict):
                operands = [key for key in node.keys if key is not None]
            else:
                continue
            if any(
                isinstance(leaf, ast.Constant) and leaf.value in names
                for operand in operands
                for leaf in ast.walk(operand)
            ):
                branching.append(f"{_relative(path)}:{node.lineno} {ast.unparse(node)[:60]}")
    assert branching == []


def test_the_effective_alpha_and_the_divergence_rule_have_one_owner():
    definitions, comparisons = [], []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                node.name == "effective_alpha"
            ):
                definitions.append(_relative(path))
            if isinstance(node, ast.Compare) and "DIVERGENCE_ALPHA" in ast.unparse(node):
                comparisons.append(_relative(path))
    assert definitions == ["methods.py"]
    assert comparisons == ["methods.py"]


# ---------------------------------------------------------------- the run directory
def _layout_constants():
    """The constants of runs/layout.py, evaluated from its source (it imports nothing)."""
    values = {}
    for node in ast.parse((PACKAGE / "runs" / "layout.py").read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            expression = ast.Expression(node.value)
            values[node.targets[0].id] = eval(compile(expression, "layout.py", "eval"), {}, values)
    return values


def test_the_run_directory_section_lists_runs_layouts_schema():
    schema, section = _layout_constants(), _section("The run directory")
    bullets = {line.split("`")[1]: line for line in re.split(r"\n(?=- )", section)[1:]}
    results = bullets["results.json"]
    assert set(re.findall(r"`(\w+)`", results)) == {*schema["RESULTS_KEYS"], *schema["VERSION_KEYS"]}
    assert set(re.findall(r'"(\w+)"', results)) == set(schema["STATUSES"])
    history = set(re.findall(r"`(\w+)`", bullets["history.csv"]))
    assert {*schema["HISTORY_COLUMNS"], *schema["PROGRESS_KEYS"]} <= history
    top = ("FLAGS_FILE", "RESULTS_FILE", "HISTORY_FILE", "LOCK_FILE", "TENSORBOARD_DIR",
           "CHECKPOINTS_DIR", "BASE_FILE", "TWIN_FILE")
    assert [schema[k] for k in top if f"`D/{schema[k]}" not in section] == []


# ---------------------------------------------------------------- private names
@pytest.mark.parametrize("pattern", [r"^\s*(from|import) keras\.src\b",
                                     r"^\s*(from|import) tensorflow\.(python|compiler)\b"])
def test_private_keras_and_tensorflow_names_are_only_where_the_design_says(pattern):
    listed = set(re.findall(r"^- `([\w/]+\.py)`", _section("Private names of Keras and TensorFlow"), re.M))
    using = {
        _relative(p) for p in SOURCES if re.search(pattern, p.read_text(), re.M)
    }
    assert using <= listed


PRIVATE = r"(keras\.src|tensorflow\.(python|compiler))\b"


def _private_imports(path):
    """(line, guarded) of each private Keras/TensorFlow import of a module;
    guarded: in the body of a `try` that catches ImportError."""
    tree = ast.parse(path.read_text())
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            h.type is not None and "ImportError" in ast.unparse(h.type) for h in node.handlers
        ):
            guarded.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        if any(re.match(PRIVATE, name) for name in names):
            found.append((node.lineno, id(node) in guarded))
    return found


def test_every_module_the_design_lists_for_private_names_uses_one():
    listed = re.findall(r"^- `([\w/]+\.py)`", _section("Private names of Keras and TensorFlow"), re.M)
    assert [m for m in listed if not _private_imports(PACKAGE / m)] == []


def test_private_names_said_to_degrade_are_imported_under_a_guard():
    section = _section("Private names of Keras and TensorFlow")
    degrading = re.findall(r"^- `([\w/]+\.py)`.*without it", section, re.M)
    assert degrading, "no line of the section says what a moved name costs"
    unguarded = [
        f"{module}:{line}"
        for module in degrading
        for line, guarded in _private_imports(PACKAGE / module)
        if not guarded
    ]
    assert unguarded == []


# ---------------------------------------------------------------- the optimizer owner
def test_only_the_owner_and_twin_models_views_name_the_two_optimizers():
    """The section's claim: no other module reaches past `model.optimizer`."""
    names = {"base_optimizer", "twin_optimizer"}
    users = {
        _relative(p) for p in SOURCES
        if any(isinstance(node, ast.Attribute) and node.attr in names
               for node in ast.walk(ast.parse(p.read_text())))
    }
    assert users == {"backend/twin_optimizer.py", "twin_model.py"}
    section = _section("The optimizer owner")
    assert all(f"`{path}`" in section for path in users)


# ---------------------------------------------------------------- the tests' layout
TESTS = ROOT / "tests"


def test_test_folders_mirror_the_package_and_docs_testing_names_real_files():
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and p.name != "__pycache__"}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert folders <= packages, f"tests/ folders without a keras_tna package: {folders - packages}"
    text = (ROOT / "docs" / "testing.md").read_text()
    named = set(re.findall(r"`(tests/[\w/]+\.py)`", text))
    assert len(named) > 15 and [n for n in named if not (ROOT / n).is_file()] == []
    every_test_file = {p.relative_to(ROOT).as_posix() for p in TESTS.rglob("test_*.py")}
    unlisted = every_test_file - named
    assert unlisted == set(), f"docs/testing.md does not list {sorted(unlisted)}"


def test_docs_testing_lists_the_modules_that_run_on_every_backend():
    marked = {
        p.relative_to(TESTS).as_posix() for p in TESTS.rglob("test_*.py")
        if re.search(r"^pytestmark = pytest\.mark\.every_backend", p.read_text(), re.M)
    }
    section = (ROOT / "docs" / "testing.md").read_text().split("every_backend`:")[1].split("\n- ")[0]
    assert set(re.findall(r"`([\w/]+\.py)`", section)) == marked


def test_ci_runs_the_readme_commands_then_the_heavy_set():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    setup = next(b for b in blocks if "python3 -m venv .venv" in b)
    tests = next(b for b in blocks if b.startswith('pip install -q -e ".[torch]"'))
    heavy = ci[ci.index("# --- the heavy set (--run_large -m large) ---") + 1]
    # CI installs exactly as the README says (its set-up command up to the main job).
    assert ci[ci.index("# --- README: set-up ---") + 1] == setup.split(" && python apps/")[0]
    assert ci[ci.index("# --- README: tests ---") + 1] == tests
    assert heavy == tests.split(" && ", 1)[1].replace("pytest -q tests", "pytest -q --run_large -m large tests")


def test_only_labels_py_decides_whether_labels_are_one_hot():
    """The rule (a last axis other than 1) is written once, in labels.py."""
    rule = re.compile(r"shape\[-1\] (!= 1|not in \(None, 1\))")
    writers = [_relative(p) for p in SOURCES if rule.search(p.read_text())]
    assert writers == ["labels.py"]


def test_where_to_change_what_names_files_that_exist():
    section = _section("Where to change what")
    named = [n for n in re.findall(r"`([\w/<>]+\.py)`", section) if "<" not in n]
    assert len(named) >= 8
    missing = [n for n in named
               if not (PACKAGE / n).is_file() and not (ROOT / n).is_file()]
    assert missing == []
