"""The rule that leaves a notebook to the full suite (tests/notebook_tiers.py): a test cell that starts Spark."""
import json
import re

from notebook_tiers import NBS, full_suite_only, skip_re, starts_spark


def _nb(path, *cells):
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": []} for c in cells],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_a_test_cell_that_starts_spark_moves_the_notebook(tmp_path):
    assert starts_spark(_nb(tmp_path / "a.ipynb", "x = 1", "spark = get_spark(settings)"))
    # the same call where nbdev-test does not run it as a test: the library's code, or a cell flagged slow or notest
    for flag in ("export", "exporti", "slow", "notest"):
        assert not starts_spark(_nb(tmp_path / "b.ipynb", f"#| {flag}\nspark = get_spark(settings)")), flag
    assert not starts_spark(_nb(tmp_path / "c.ipynb", "#| hide\nx = 1", "get_spark  # named, not called"))
    assert starts_spark(_nb(tmp_path / "d.ipynb", "#| hide\nspark = get_spark(settings)"))
    assert starts_spark(_nb(tmp_path / "e.ipynb", "with StandaloneCluster(workers=1) as c: pass"))
    assert not starts_spark(_nb(tmp_path / "f.ipynb", "#| export\nclass StandaloneCluster:\n    pass"))


def test_skip_re_leaves_out_exactly_the_named_notebooks_and_nbdevs_default():
    r = re.compile(skip_re(["05a_region", "00c_cluster"]))
    for skipped in ("05a_region.ipynb", "00c_cluster.ipynb", "_nbval", ".ipynb_checkpoints"): assert r.search(skipped), skipped
    for kept in ("05_score.ipynb", "05a_region_cli.ipynb", "x05a_region.ipynb", "01_explore.ipynb"): assert not r.search(kept), kept


def test_the_project_split_keeps_a_fast_tier():
    names, nbs = full_suite_only(), {p.stem for p in NBS.glob("*.ipynb")}
    assert "90_testing" in names and set(names) <= nbs   # its test starts a standalone cluster
    assert len(nbs - set(names)) >= len(names), "most notebooks stay in the fast tier"
