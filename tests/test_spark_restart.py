"""A process whose Spark session resolved SynapseML from Maven (a machine's first session: the jars go on Python's
path) and then stopped (the jars are deleted with Spark's temporary folder) can still import the SynapseML modules it
had not imported yet: `aerial_nb.spark.forget_vanished_jars`. Without it, `nbdev-test` failed in 03_train when its
worker process had featurized in an earlier notebook (CI, 2026-12-05). Runs in a fresh Python: sys.path is the point."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aerial_nb.settings import load_settings
from aerial_nb.spark import jar_cache_dir

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import os, sys
    from aerial_nb.settings import load_settings
    from aerial_nb.spark import get_spark
    spark = get_spark(load_settings(overrides={"paths": {"jar_cache": sys.argv[1]}}), app_name="restart")
    jars = [p for p in sys.path if p.endswith(".jar")]
    assert jars, "a session that resolves its packages puts their jars on sys.path"
    from synapse.ml.onnx import ImageFeaturizer   # imported while the session lives: synapse.ml now spans the jars
    spark.stop()
    assert not any(os.path.exists(p) for p in jars), "stop() deletes the jars"
    from aerial_nb.train import check_classifier_params   # imports synapse.ml.lightgbm
    check_classifier_params("lightgbm"); print("imported synapse.ml.lightgbm")
    """)


def test_synapse_imports_after_a_resolving_session_stopped(tmp_path):
    real = jar_cache_dir(load_settings())
    if not (real / "ivy").is_dir():
        pytest.skip(f"SynapseML was never resolved on this machine ({real / 'ivy'} is missing) and tests never "
                    "download: run any Spark test (or `make run`) first")
    # A jar cache with the resolved ivy files but no jars.txt: get_spark resolves the packages (offline) as a
    # machine's first session does, instead of passing the cached jars.
    cache = tmp_path / "jars"
    (cache / real.name).mkdir(parents=True)
    (cache / real.name / "ivy").symlink_to(real / "ivy")
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(cache)], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "imported synapse.ml.lightgbm" in out.stdout
