"""Every ```python block of README.md and docs/**/*.md runs as written.

Each block runs in its own Python process (a fresh interpreter, so a block
that picks the JAX backend cannot disturb the others), in a temporary
directory, with the checkout on PYTHONPATH and a timeout. An HTML comment on
the line(s) right before a block changes how it is run:

- `<!-- snippet: skip (reason) -->`: not run (it cannot run here, e.g. it
  needs a TFDS download, a TPU or several workers); reported as skipped with
  the reason;
- `<!-- snippet: requires <module> -->`: skipped unless `<module>` imports
  (an optional extra).

Every block is a fresh interpreter (TensorFlow imported anew, 6-30 s), so the
runs are `large` (`--run_large`); the parser's own tests are fast.
"""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
TIMEOUT_S = 300

_FENCE_OPEN = re.compile(r"^(\s*)```python\s*$")
_FENCE_CLOSE = re.compile(r"^\s*```\s*$")
_MARKER = re.compile(r"^\s*<!--\s*snippet:\s*(.*?)\s*-->\s*$")
_DIRECTIVE = re.compile(
    r"^(?:skip\s*\((?P<reason>.+)\)|requires\s+(?P<module>[\w.]+))$"
)


def _parse(path):
    """The python blocks of one markdown file: [(line, code, directives)].

    Raises ValueError on a malformed marker, or one not followed by a block.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, pending, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        marker = _MARKER.match(line)
        opening = _FENCE_OPEN.match(line)
        if marker:
            directive = _DIRECTIVE.match(marker.group(1))
            if directive is None:
                raise ValueError(
                    f"{path.name}:{i + 1}: unknown snippet marker; use "
                    "'skip (reason)' or 'requires <module>'. "
                    f"Received: {line.strip()!r}"
                )
            pending.append(directive.groupdict())
        elif opening:
            indent, start, body = len(opening.group(1)), i + 1, []
            i += 1
            while i < len(lines) and not _FENCE_CLOSE.match(lines[i]):
                body.append(lines[i][indent:])
                i += 1
            blocks.append((start, "\n".join(body) + "\n", pending))
            pending = []
        elif line.strip() and pending:
            raise ValueError(
                f"{path.name}:{i + 1}: a snippet marker must sit right before "
                f"a ```python block. Received: {line.strip()!r}"
            )
        i += 1
    return blocks


def _cases():
    cases = []
    for path in DOCS:
        relative = path.relative_to(REPO).as_posix()
        for index, (line, code, directives) in enumerate(_parse(path)):
            cases.append(
                pytest.param(
                    relative, line, code, directives,
                    id=f"{relative}-{index}",
                )
            )
    return cases


CASES = _cases()


def test_the_docs_have_snippets():
    # The parser found the blocks (the README's first one at least).
    assert any(case.values[0] == "README.md" for case in CASES)
    assert len(CASES) >= 5


# Each block runs as a user runs it, in a fresh interpreter (its imports, its
# KERAS_BACKEND): a process-start check, so `large`.
@pytest.mark.large
@pytest.mark.parametrize("relative,line,code,directives", CASES)
def test_snippet_runs(tmp_path, relative, line, code, directives):
    for directive in directives:
        if directive["reason"]:
            pytest.skip(f"{relative}:{line}: {directive['reason']}")
        module = directive["module"]
        if module and importlib.util.find_spec(module) is None:
            pytest.skip(f"{relative}:{line}: needs {module}, not installed")
    script = tmp_path / "snippet.py"
    script.write_text(code, encoding="utf-8")
    env = {
        key: value for key, value in os.environ.items()
        if key not in ("KERAS_BACKEND", "PYTHONPATH")
    }
    env.update(PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    try:
        result = subprocess.run(
            [sys.executable, script.name], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{relative}:{line}: the block ran over {TIMEOUT_S} s")
    assert result.returncode == 0, (
        f"{relative}:{line}: the block failed (exit {result.returncode}):\n"
        f"{code}\n--- stderr (end) ---\n{result.stderr[-3000:]}"
    )


def test_markers(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(
        "text\n\n<!-- snippet: skip (needs a TPU) -->\n```python\nx = 1\n```\n"
        "<!-- snippet: requires keras_hub -->\n<!-- snippet: skip (a TPU) -->\n"
        "  ```python\n  y = 2\n  ```\n```python\nz = 3\n```\n```bash\nls\n```\n",
        encoding="utf-8",
    )
    (a, b, c) = _parse(doc)
    assert a[1] == "x = 1\n" and a[2][0]["reason"] == "needs a TPU"
    assert b[1] == "y = 2\n"
    assert [d["module"] for d in b[2]] == ["keras_hub", None]
    assert b[2][1]["reason"] == "a TPU" and c[2] == []
    for marker in ("skip", "large"):
        doc.write_text(f"<!-- snippet: {marker} -->\n```python\nx = 1\n```\n", encoding="utf-8")
        with pytest.raises(ValueError, match="unknown snippet marker"):
            _parse(doc)
    doc.write_text(
        "<!-- snippet: requires jax -->\nprose\n```python\nx\n```\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match="right before"):
        _parse(doc)


# ------------------------------------------------------ docstring examples (>>>)
# Every module with an example that runs (not all `# doctest: +SKIP`);
# keras_tna.distribute's need TensorFlow's globals: test_distribute runs them.
def _runs_an_example(path):
    examples = re.split(r"^\s*>>> ", path.read_text(), flags=re.MULTILINE)[1:]
    # An example is its ">>>" line and its "..." lines; a directive on any of them applies.
    sources = [re.match(r"(.*(?:\n\s*\.\.\. .*)*)", e).group(1) for e in examples]
    return any("doctest: +SKIP" not in source for source in sources)


_DOCTESTED = sorted(
    ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
    for path in (REPO / "keras_tna").rglob("*.py")
    if _runs_an_example(path) and "distribute" not in path.parts
)


def test_the_package_has_docstring_examples():
    assert len(_DOCTESTED) > 15, _DOCTESTED


@pytest.mark.parametrize("name", _DOCTESTED)
def test_docstring_examples_run(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, f"{name}: {result}"
