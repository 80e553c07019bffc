"""The committed results pages made by apps/report.py hold what the committed
runs give now: each `report.md` is regenerated from its runs and compared, and
the page that quotes it must quote its tables unchanged (no drifting copy).

The compute-matched page has its own test in tests/reporting/test_compute.py.
"""

import pathlib

import pytest

from keras_tna import reporting

RESULTS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "results"


# Each report and the seeds it covers (its page's command says the same).
@pytest.mark.parametrize("name, seeds", [
    ("table1_convnet_cifar10_20ep", [0, 1, 2, 3]),
    ("sec4_2_convnet_cifar10_5ep", None),
])
def test_report_and_page_match_the_committed_runs(name, seeds):
    folder = RESULTS / name
    made = reporting.report([folder / "runs"], output_dir=None, plots=False, echo=False,
                            seeds=seeds)
    only = "" if seeds is None else " --seeds=" + ",".join(map(str, seeds))
    regenerate = (f"regenerate it: python apps/report.py --runs=docs/results/{name}/runs "
                  f"--output_dir=docs/results/{name} --name=report{only}")
    page_name = name.removesuffix("_20ep")
    assert regenerate.removeprefix("regenerate it: ").split(" --runs")[1] in " ".join(
        (RESULTS / f"{page_name}.md").read_text().replace("\\\n", " ").split()
    ), f"docs/results/{page_name}.md does not give the command: {regenerate}"
    assert (folder / "report.md").read_text() == made["markdown"], regenerate
    page = (RESULTS / f"{page_name}.md").read_text().splitlines()
    quoted = [line for line in made["markdown"].splitlines()
              if line.startswith(("|", "- ", "####"))]
    assert len(quoted) > 10
    missing = [line for line in quoted if line not in page]
    assert not missing, f"docs/results/{page_name}.md differs from {name}/report.md: {missing}"


def test_the_spread_table_on_the_compute_page_is_what_the_runs_give():
    """benchmarks/tna_spread.py's table, quoted on the compute-matched page
    (over seeds 0-4, so later seeds do not change it)."""
    import importlib.util

    path = RESULTS.parents[1] / "benchmarks" / "tna_spread.py"
    spec = importlib.util.spec_from_file_location("tna_spread", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = module.table(RESULTS / "table1_convnet_cifar10_20ep" / "runs", seeds=[0, 1, 2, 3, 4])
    page = (RESULTS / "compute_matched_convnet_cifar10.md").read_text()
    assert made in page, "regenerate: python benchmarks/tna_spread.py --runs=... --seeds=0,1,2,3,4"
