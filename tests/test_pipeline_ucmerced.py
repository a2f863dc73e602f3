"""The whole pipeline on real data through `aerial-nb run`: UC Merced (a stratified 20% sample) as a benchmark, and the refusal to map
5 m NAIP with a model that learned 0.3 m scenes."""
import json

import pandas as pd
import pytest
import yaml

from helpers import NAIP, ROOT, UCMERCED, aerial_nb, need

# Slow tier (the whole pipeline on real data): left out of `make test-fast`, run by `make test`.
pytestmark = pytest.mark.slow

STEPS = ["00_setup", "01_explore", "02_featurize", "03_train", "04_compare", "05_score", "06_visualize"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    need(UCMERCED); need(NAIP)
    out = tmp_path_factory.mktemp("outputs")
    raster = sorted(NAIP.glob("*.tif"))[-1]
    r = aerial_nb("run", "params/ucmerced.yaml", "--set", f"images_dir={UCMERCED}", "--set", "sample_frac=0.2",
                  "--set", "output_model_name=it-lr", outputs=out)
    assert r.returncode == 0, r.stdout + r.stderr
    return out, next((out / "runs").iterdir()), r.stdout, raster


def test_every_step_ran_and_left_its_notebook(run):
    out, run_dir, stdout, _ = run
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "finished" and list(status["timings"]) == STEPS
    for s in STEPS: assert (run_dir / "notebooks" / f"{s}.ipynb").stat().st_size > 0
    assert "test accuracy:" in stdout and str(run_dir) in stdout


def test_a_run_executes_only_its_steps_not_their_fixture_tests(run):
    "Each executed notebook is its step without the cells tagged `fixture`, which the source keeps for nbdev-test."
    import nbformat
    _, run_dir, _, _ = run
    for s in STEPS:
        src = nbformat.read(ROOT / "nbs" / f"{s}.ipynb", as_version=4)
        ran = nbformat.read(run_dir / "notebooks" / f"{s}.ipynb", as_version=4)
        fixture = [c.source for c in src.cells if "fixture" in c.metadata.get("tags", [])]
        assert not any("fixture" in c.metadata.get("tags", []) for c in ran.cells), s
        assert not set(fixture) & {c.source for c in ran.cells}, s
        assert len(ran.cells) == len(src.cells) - len(fixture) + 1, s   # + papermill's injected parameters
        if s != "00_setup": assert fixture, f"{s} tags no fixture cell"


def test_metrics_are_those_of_a_real_classifier(run):
    _, run_dir, _, _ = run
    m = json.loads((run_dir / "metrics.json").read_text())
    manifest = pd.read_parquet(run_dir / "manifest.parquet")
    assert len(manifest) == 21 * 20 and m["n_train"] + m["n_test"] == len(manifest)
    assert len(m["labels"]) == 21 and sum(map(sum, m["confusion_matrix"])) == m["n_test"]
    # ImageNet features + a linear model reach ~90% on UC Merced even with 16 training images per class;
    # chance is 1/21. A broken featurizer (wrong channel order, normalization) lands far below.
    assert m["accuracy"] > 0.75, m["accuracy"]
    assert (run_dir / "plots" / "confusion_matrix.png").stat().st_size > 10_000


def test_the_model_records_its_scale_and_naip_is_refused_before_any_work(run):
    out, run_dir, _, raster = run
    meta = json.loads((out / "models" / "it-lr" / "aerial_nb.json").read_text())
    assert meta["scale"]["gsd_m"] == 0.3048 and meta["scale"]["image_px"] == 256
    assert abs(meta["scale"]["footprint_m"] - 78.0) < 0.1
    # Scoring 5 m NAIP with it: refused at once, before Spark starts, naming the fix.
    r = aerial_nb("run", "params/ucmerced.yaml", "--set", f"images_dir={UCMERCED}", "--set", f"score_raster={raster}",
                  outputs=out, timeout=120)
    assert r.returncode != 0 and "blur" in r.stdout + r.stderr and "params/eurosat.yaml" in r.stdout + r.stderr
    r = aerial_nb("score", str(run_dir / "no-tiles"), "--out", str(out / "s"), "--model", "it-lr", outputs=out, timeout=120)
    assert r.returncode != 0


def test_the_model_is_saved_and_protected(run):
    out, run_dir, _, _ = run
    assert (out / "models" / "it-lr" / "aerial_nb.json").exists()
    assert json.loads((out / "best_model.json").read_text())["run_id"] == run_dir.name
    r = aerial_nb("run", "params/ucmerced.yaml", "--set", f"images_dir={UCMERCED}", "--set", "output_model_name=it-lr",
                  outputs=out, timeout=120)
    assert r.returncode == 2 and "already exists" in r.stderr


def test_a_second_run_reads_the_feature_cache(run):
    out, run_dir, _, _ = run
    r = aerial_nb("run", "params/ucmerced.yaml", "--set", f"images_dir={UCMERCED}", "--set", "score_raster=",
                  "--set", "sample_frac=0.2", "--set", "classifier=random_forest",
                  "--set", "classifier_params={numTrees: 30}",   # the default 200 trees only cost CI time here
                  "--steps", "00_setup,01_explore,02_featurize,03_train", outputs=out)
    assert r.returncode == 0, r.stderr
    second = max((out / "runs").iterdir(), key=lambda p: p.name)
    assert second != run_dir
    assert json.loads((second / "features.json").read_text())["cached"] is True
    m = json.loads((second / "metrics.json").read_text())
    assert m["classifier"] == "random_forest" and m["accuracy"] > 0.5
    params = yaml.safe_load((second / "params.yaml").read_text())
    assert params["classifier"] == "random_forest"


def test_featurizing_says_how_far_it_is_in_its_log(run):
    "The step's log has plain progress lines (00i_progress) from the Spark tasks done, the last one at 100%."
    _, run_dir, _, _ = run
    lines = [ln for ln in (run_dir / "logs" / "02_featurize.log").read_text().splitlines()
             if ln.startswith("featurizing efficientnet-lite0: ")]
    assert lines, "no progress line in logs/02_featurize.log"
    done, total = lines[-1].split(": ", 1)[1].split(" ")[0].split("/")
    assert done == total and int(total) > 0 and "images/s" in lines[-1] and lines[-1].endswith("done"), lines
