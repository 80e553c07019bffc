"""The committed results pages made by apps/report.py hold what the committed
runs give now: each `report.md` is regenerated from its runs and compared, and
the page that quotes it must quote its tables unchanged (no drifting copy).

The compute-matched page has its own test in test_reporting_compute.py.
"""

import pathlib

import pytest

from keras_tna import reporting

RESULTS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "results"


@pytest.mark.parametrize("name", ["table1_convnet_cifar10_20ep", "sec4_2_convnet_cifar10_5ep"])
def test_report_and_page_match_the_committed_runs(name):
    folder = RESULTS / name
    made = reporting.report([folder / "runs"], output_dir=None, plots=False, echo=False)
    regenerate = (f"regenerate it: python apps/report.py --runs=docs/results/{name}/runs "
                  f"--output_dir=docs/results/{name} --name=report")
    assert (folder / "report.md").read_text() == made["markdown"], regenerate
    page_name = name.removesuffix("_20ep")
    page = (RESULTS / f"{page_name}.md").read_text().splitlines()
    quoted = [line for line in made["markdown"].splitlines()
              if line.startswith(("|", "- ", "####"))]
    assert len(quoted) > 10
    missing = [line for line in quoted if line not in page]
    assert not missing, f"docs/results/{page_name}.md differs from {name}/report.md: {missing}"
