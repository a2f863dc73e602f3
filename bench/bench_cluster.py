"""Featurize throughput on a real Spark standalone cluster: 1 worker, then 2 workers (1 core each), per backend.

    flock /tmp/aerial_cpu.lock .venv/bin/python bench/bench_cluster.py [N_IMAGES]

Prints images/s for each and the scaling efficiency (speed-up with 2 workers / 2). Each measurement is a fresh
Spark application (a subprocess) whose executors are all warm before timing (see `aerial_nb.bench`).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("onnxruntime", "synapseml")


def job(master: str, n: int):
    from aerial_nb.bench import bench_spark_backend
    from aerial_nb.explore import find_images
    from aerial_nb.models import ensure_model
    from aerial_nb.settings import load_settings
    from aerial_nb.spark import get_spark
    settings = load_settings()
    spark = get_spark(settings, app_name="aerial_nb-cluster-bench")
    images = find_images(settings.path("data", "images_dir")).sort_values("path")
    paths = images.path.iloc[:: max(1, len(images) // n)].tolist()[:n]   # spread over every class
    model = ensure_model("efficientnet-lite0", settings.path("paths", "model_store"))
    # Warm every executor: the warm-up covers as many partitions as there are cores.
    out = [bench_spark_backend(spark, paths, featurizer=model, settings=settings, backend=b, warmup=64) for b in BACKENDS]
    print("RESULT " + json.dumps({"cores": spark.sparkContext.defaultParallelism, "results": out}))
    spark.stop()


def main(n: int):
    from aerial_nb.testing import StandaloneCluster
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "AERIAL_NB_SPARK_EXECUTOR_MEMORY": "2g"}
    rows = {}
    with StandaloneCluster(workers=1, cores=1, memory="2560m") as cluster:
        for workers in (1, 2):
            if workers == 2: cluster.add_worker()
            r = subprocess.run([sys.executable, __file__, "--job", cluster.master_url, str(n)], cwd=ROOT,
                               env={**env, "AERIAL_NB_SPARK_MASTER": cluster.master_url}, capture_output=True, text=True)
            line = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
            if r.returncode or not line: sys.exit(f"benchmark job failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}")
            for res in json.loads(line[0][7:])["results"]: rows[(res["method"], workers)] = res
    print(f"\nfeaturize throughput, {n} UC Merced images, Spark standalone, 1 core per worker\n")
    print("| backend | 1 worker (img/s) | 2 workers (img/s) | speed-up | scaling efficiency |")
    print("|---|---|---|---|---|")
    for (method, w), one in rows.items():
        if w != 1: continue
        two = rows[(method, 2)]
        s = two["images_per_second"] / one["images_per_second"]
        print(f"| {method} | {one['images_per_second']:.1f} | {two['images_per_second']:.1f} | {s:.2f}x | {s / 2:.0%} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--job"]: job(sys.argv[2], int(sys.argv[3]))
    else: main(int(sys.argv[1]) if len(sys.argv) > 1 else 700)
