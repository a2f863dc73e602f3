"""Kill -9 a region scoring job at several points and start it again: every tile must end up scored exactly once."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from aerial_nb.run_folder import leftovers
from helpers import ROOT, cli_env

# Slow tier (Spark, and a scoring job killed and resumed): left out of `make test-fast`, run by `make test`.
pytestmark = pytest.mark.slow

CHUNK = 8


@pytest.fixture(scope="module")
def job(tmp_path_factory, fixture_model, cut_at_model_scale):
    "The fixture model and a window tile set of a synthetic raster at its scale (360 m tiles every 60 m: about 70 tiles)."
    from aerial_nb.testing import make_fixture_geotiff
    root = tmp_path_factory.mktemp("region_resume")
    make_fixture_geotiff(root / "rasters" / "m_4709963_se_14_1_20200831.tif", width=200, height=160, seed=2)
    tiles = cut_at_model_scale(root / "rasters", root / "tiles", 60)
    return root, str(fixture_model), tiles


def _start(root: Path, model: str, out: Path) -> subprocess.Popen:
    cmd = [str(Path(sys.executable).parent / "aerial-nb"), "score", str(root / "tiles"), "--out", str(out),
           "--model", model, "--chunk-size", str(CHUNK)]
    # Its own session, so kill -9 reaches the driver and its JVM and Python workers at once, as a crash would. A JVM
    # killed so leaves Spark's temporary folders (~200 MB each: a copy of SynapseML's jars): here, not in /tmp.
    env = cli_env(root / "outputs", SPARK_LOCAL_DIRS=str(spark_local(out)))
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def spark_local(out: Path) -> Path:
    "The killed jobs' Spark temporary folders, beside their output: the test deletes them."
    d = out.parent / "spark-local"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _committed(out: Path) -> int:
    return sum(1 for p in (out / "parts").glob("chunk-*") if p.is_dir()) if (out / "parts").exists() else 0


def _kill_after(proc: subprocess.Popen, out: Path, commits: int, timeout: float = 300) -> int:
    "SIGKILL the job's process group once `commits` chunks are committed (0: once the job is planned); return commits seen."
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"the job ended (rc {proc.returncode}) before {commits} commits:\n{proc.stdout.read()}")
        if (out / "job.json").exists() and _committed(out) >= commits: break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    return _committed(out)


def test_kill_and_resume_scores_every_tile_once(job, tmp_path):
    root, model, tiles = job
    out = tmp_path / "scores"
    n_chunks = -(-len(tiles) // CHUNK)
    assert n_chunks >= 8, "the tile set must span enough chunks to kill between them"
    seen = []
    for commits in (0, 1, 3):
        got = _kill_after(_start(root, model, out), out, commits)
        seen.append(got)
        assert not (out / "predictions.parquet").exists(), "killed before the end, yet predictions were assembled"
    print(f"\n{len(tiles)} tiles in {n_chunks} chunks of {CHUNK}; committed chunks when killed: {seen}")
    assert seen == sorted(seen) and seen[-1] < n_chunks, seen
    proc = _start(root, model, out)
    log, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, log
    print(log.strip().splitlines()[0])
    pred = pd.read_parquet(out / "predictions.parquet")
    assert pred.filename.is_unique, pred.filename[pred.filename.duplicated()].tolist()[:5]
    assert set(pred.filename) == set(tiles.filename)
    assert len(pd.read_csv(out / "predictions.csv")) == len(tiles)
    assert _committed(out) == n_chunks and not leftovers(out / "parts")
    info = json.loads((out / "score.json").read_text())
    assert info["chunks_resumed"] == seen[-1] and info["tiles_scored_now"] == len(tiles) - seen[-1] * CHUNK
    assert pred.run_id.nunique() == 1   # one job, one run id, however many starts
    # Starting it once more scores nothing and changes nothing.
    again = _start(root, model, out)
    log2, _ = again.communicate(timeout=600)
    assert again.returncode == 0, log2
    assert json.loads((out / "score.json").read_text())["tiles_scored_now"] == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out / "predictions.parquet"), pred)
    killed = list(spark_local(out).iterdir())
    assert killed, "the killed jobs' Spark folders were not where SPARK_LOCAL_DIRS put them"
    shutil.rmtree(spark_local(out))   # what the three killed JVMs left
