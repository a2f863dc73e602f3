"""featurize + train + score on a real Spark standalone cluster (master + 2 workers, 1 core each, loopback only),
compared with `local[2]` (the same 2 cores, so the same partitioning) on the same UC Merced subset."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from aerial_nb.testing import StandaloneCluster
from aerial_nb.featurize import read_features
from helpers import ROOT, cli_env, ucmerced_subset

# Slow tier (a Spark standalone cluster): left out of `make test-fast`, run by `make test`.
pytestmark = pytest.mark.slow

CLASSES, PER_CLASS = ["agricultural", "beach", "forest"], 10


@pytest.fixture(scope="module")
def subset(tmp_path_factory):
    return ucmerced_subset(tmp_path_factory.mktemp("ucm_subset"), CLASSES, PER_CLASS)


def start_job(master: str, images, outputs) -> subprocess.Popen:
    "tests/cluster_job.py on `master`, with the master chosen the way a user does: by the environment."
    env = cli_env(AERIAL_NB_SPARK_MASTER=master, AERIAL_NB_SPARK_EXECUTOR_MEMORY="1g", AERIAL_NB_SPARK_DRIVER_MEMORY="2g",
                  SPARK_LOCAL_IP="127.0.0.1")
    log = open(outputs / "job.log", "w")
    return subprocess.Popen([sys.executable, str(ROOT / "tests" / "cluster_job.py"), str(images), str(outputs)], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT)


def job_result(p: subprocess.Popen, outputs) -> dict:
    try: p.wait(600)
    except subprocess.TimeoutExpired: p.kill(); p.wait()
    assert p.returncode == 0, (outputs / "job.log").read_text()[-6000:]
    return json.loads((outputs / "job.json").read_text())


@pytest.fixture(scope="module")
def jobs(subset, tmp_path_factory):
    out_local, out_cluster = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("cluster")
    with StandaloneCluster(workers=2, cores=1, memory="1536m") as cluster:
        # Both at once: the results cannot depend on timing, and CI waits half as long.
        jobs = [start_job("local[2]", subset, out_local), start_job(cluster.master_url, subset, out_cluster)]
        local, on_cluster = job_result(jobs[0], out_local), job_result(jobs[1], out_cluster)
        apps = cluster.state()["completedapps"]
    return local, on_cluster, apps


def test_the_job_ran_on_the_cluster_with_two_executors(jobs):
    local, on_cluster, apps = jobs
    assert local["master"] == "local[2]" and on_cluster["master"].startswith("spark://127.0.0.1:")
    # The driver's block manager plus one executor per worker.
    assert on_cluster["executors"] == 3
    assert [a["name"] for a in apps] == ["aerial_nb-cluster-test"] and apps[0]["cores"] == 2


@pytest.mark.parametrize("backend", ["synapseml", "onnxruntime"])
def test_features_equal_those_of_local(jobs, backend):
    local, on_cluster, _ = jobs
    a, b = read_features(local["features"][backend]), read_features(on_cluster["features"][backend])
    assert len(a) == len(CLASSES) * PER_CLASS and sorted(a.index) == sorted(b.index)
    b = b.loc[a.index]
    # Same ONNX bytes, same onnxruntime, same images and the same mini-batches (2 partitions either way): the
    # same float32 numbers, bit for bit.
    assert all(np.array_equal(x, y) for x, y in zip(a.features, b.features))


def test_metrics_and_predictions_equal_those_of_local(jobs):
    local, on_cluster, _ = jobs
    ml, mc = local["metrics"], on_cluster["metrics"]
    for k in ("accuracy", "macro_f1", "confusion_matrix", "labels", "n_train", "n_test"):
        assert ml[k] == mc[k], k
    pl = pd.read_parquet(local["predictions"]).sort_values("filename").reset_index(drop=True)
    pc = pd.read_parquet(on_cluster["predictions"]).sort_values("filename").reset_index(drop=True)
    assert len(pl) == local["n_scored"] == on_cluster["n_scored"] > 0
    assert (pl.pred_label == pc.pred_label).all()
    probs = [c for c in pl.columns if c.startswith("prob_")]
    # L-BFGS sums gradients over partitions in whatever order tasks finish: the last bits may differ.
    np.testing.assert_allclose(pl[probs].to_numpy(), pc[probs].to_numpy(), rtol=0, atol=1e-9)
