"""`aerial-nb sweep` end to end on fixture images: parallel points, a failing point, resuming, one featurization per
feature set, and the run history in MLflow (read back with MLflow's own client)."""
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import aerial_nb

# Slow tier (parallel pipeline runs, each with its Spark session): left out of `make test-fast`, run by `make test`.
pytestmark = pytest.mark.slow

SECRET = "AccountKey=do-not-log-this-0123456789"


def _grid(tmp_path: Path) -> Path:
    from aerial_nb.testing import make_fixture_images
    good = make_fixture_images(tmp_path / "good", per_class=6)
    # A set whose 'water' class has one image: valid parameters, but its explore step cannot split it into train and test.
    bad = make_fixture_images(tmp_path / "bad", per_class=6)
    for f in sorted((bad / "water").iterdir())[1:]: f.unlink()
    grid = {"run_name": "t", "images_dir": [str(good), str(bad)], "featurizer_backend": "onnxruntime", "score_raster": "",
            "test_frac": 0.34, "classifier": ["logistic_regression", "random_forest"],
            "classifier_params": {"random_forest": {"numTrees": 5, "maxDepth": 4}}}
    p = tmp_path / "grid.yaml"; p.write_text(yaml.safe_dump(grid)); return p


def _mlflow_runs(outputs: Path):
    from mlflow.tracking import MlflowClient
    c = MlflowClient(tracking_uri=f"sqlite:///{outputs / 'mlflow.db'}")
    exp = c.get_experiment_by_name("aerial_nb")
    return c, c.search_runs([exp.experiment_id], max_results=1000)


def test_sweep_parallel_failure_resume_and_history(tmp_path):
    out = tmp_path / "outputs"
    grid = _grid(tmp_path)
    env = {"AZURE_STORAGE_CONNECTION_STRING": SECRET}
    r = aerial_nb("sweep", str(grid), "--jobs", "2", outputs=out, env=env, timeout=1200)
    assert r.returncode == 1, r.stdout + r.stderr          # one point failed, the command says so
    sweep_dir = next((out / "sweeps").iterdir())
    table = pd.read_csv(sweep_dir / "runs.csv")
    assert sorted(table.status) == ["failed", "failed", "finished", "finished"], table
    failed = table[table.status == "failed"].iloc[0]
    assert failed.failed_step == "01_explore" and "fewer than 2 images" in failed.error
    # The failing cell is in the executed notebook, with its error.
    nb = json.loads((out / "runs" / failed.run_id / "notebooks" / "01_explore.ipynb").read_text())
    assert any(o.get("output_type") == "error" and "water" in o.get("evalue", "") for c in nb["cells"] for o in c.get("outputs", []))
    # Two finished points, one feature set: featurized once, read from the cache once.
    cached = [json.loads((out / "runs" / i / "features.json").read_text())["cached"] for i in table[table.status == "finished"].run_id]
    assert sorted(cached) == [False, True], cached
    assert json.loads((sweep_dir / "summary.json").read_text())["featurizations"] == 1
    # The run history, read back with MLflow's client.
    client, runs = _mlflow_runs(out)
    by_id = {x.data.tags["aerial_nb.run_id"]: x for x in runs}
    assert set(by_id) == set(table.run_id)
    for row in table.itertuples():
        run = by_id[row.run_id]
        assert run.info.status == {"finished": "FINISHED", "failed": "FAILED"}[row.status]
        assert run.data.tags["aerial_nb.sweep_id"] == sweep_dir.name and run.data.tags["git_commit"]
        assert run.data.params["classifier"] == row.classifier
        arts = {a.path for a in client.list_artifacts(run.info.run_id, "notebooks")}
        assert f"notebooks/{'03_train' if row.status == 'finished' else '01_explore'}.ipynb" in arts, arts
        if row.status == "finished":
            m = json.loads((out / "runs" / row.run_id / "metrics.json").read_text())
            assert run.data.metrics["accuracy"] == m["accuracy"]
            assert {f"f1.{c}" for c in m["labels"]} <= set(run.data.metrics)
            assert run.data.tags["onnx_sha256"] == m["onnx_sha256"] and len(run.data.tags["data_fingerprint"]) == 64
        else:
            assert "fewer than 2 images" in run.data.tags["error"] and run.data.tags["failed_step"] == "01_explore"
    # Nothing from the environment's secrets reached the store or its artifacts.
    with sqlite3.connect(out / "mlflow.db") as db:
        dump = "\n".join(db.iterdump())
    assert SECRET not in dump
    assert not [p for p in (out / "mlartifacts").rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    # The compare step ran once over the sweep and chose a finished run.
    best = json.loads((out / "best_model.json").read_text())
    assert best["run_id"] in set(table[table.status == "finished"].run_id)

    # Again: finished points are skipped (their files untouched), the failed one is retried.
    stamps = {i: (out / "runs" / i / "status.json").stat().st_mtime_ns for i in table.run_id}
    r2 = aerial_nb("sweep", str(grid), "--jobs", "2", "--no-compare", outputs=out, env=env, timeout=1200)
    assert "2 already finished, 2 to run" in r2.stdout, r2.stdout + r2.stderr
    for i in table[table.status == "finished"].run_id:
        assert (out / "runs" / i / "status.json").stat().st_mtime_ns == stamps[i]
    for i in table[table.status == "failed"].run_id:
        assert (out / "runs" / i / "status.json").stat().st_mtime_ns != stamps[i]
    _, runs2 = _mlflow_runs(out)
    assert len(runs2) == 6     # each retry is a new MLflow run; the finished ones were not logged again


def test_sweep_grid_problems_all_at_once(tmp_path):
    bad = tmp_path / "grid.yaml"
    bad.write_text(yaml.safe_dump({"classifier": ["logistic_regression", "svm", "random_forest"], "pretrained_model_type": ["efficientnet-lite0", "vgg16"],
                                   "sample_frac": [0.5, 0], "learning_rate": 0.1,
                                   "classifier_params": {"random_forest": {"numTree": [5, 10]}, "logistic_regression": {}}}))
    r = aerial_nb("sweep", str(bad), "--jobs", "2", outputs=tmp_path / "outputs", timeout=120)
    assert r.returncode == 2
    for frag in ["'svm'", "'vgg16'", "sample_frac must be a number in (0, 1], got 0", "unknown parameter 'learning_rate'",
                 "nothing was run", "numTree"]:
        assert frag in r.stderr, (frag, r.stderr)
    assert not (tmp_path / "outputs" / "runs").exists(), "nothing may start before the whole grid is valid"
