"""docs/DESIGN.md held to the code: modules, who imports whom, import routes, sizes.

Each test reads a section of docs/DESIGN.md and the package's source (with
`ast`, nothing is imported), so the document cannot drift silently: a new
module needs its line in "## Modules", a new package its place in "## Who may
import whom".
"""

import ast
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


# ---------------------------------------------------------------- private names
_PRIVATE_IMPORTS = [r"^\s*(from|import) keras\.src\b",
                    r"^\s*(from|import) tensorflow\.(python|compiler)\b"]


def test_private_keras_and_tensorflow_names_are_where_the_design_says():
    listed = set(re.findall(r"`([\w/]+\.py)`", _section("Private names of Keras and TensorFlow")))
    using = {
        _relative(p) for p in SOURCES
        if any(re.search(pattern, p.read_text(), re.M) for pattern in _PRIVATE_IMPORTS)
    }
    assert using == listed


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
