"""Shared test helpers: where the real data is, and how to run the `aerial-nb` command."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Real imagery lives beside the project (never inside it); $AERIAL_NB_TEST_DATA points elsewhere.
SHARED_DATA = Path(os.environ.get("AERIAL_NB_TEST_DATA", ROOT.parent / "shared" / "data"))
UCMERCED = SHARED_DATA / "ucmerced"
NAIP = SHARED_DATA / "naip_nd"


def need(path: Path):
    "Skip the test, saying why, when a real data set is absent."
    if not path.is_dir():
        pytest.skip(f"real data {path} is absent (set AERIAL_NB_TEST_DATA to a folder holding ucmerced/ and naip_nd/)")


def aerial_nb(*args, outputs: Path, env: dict | None = None, timeout: int = 1500) -> subprocess.CompletedProcess:
    "Run the `aerial-nb` command of this environment with its outputs in `outputs`."
    e = {**os.environ, "AERIAL_NB_PATHS_OUTPUTS_DIR": str(outputs),
         # keep exports shared with the rest of the project so tests do not export the ONNX models again
         "AERIAL_NB_PATHS_MODEL_STORE": str(ROOT / "outputs" / "model_store"), **(env or {})}
    exe = Path(sys.executable).parent / "aerial-nb"
    return subprocess.run([str(exe), *args], cwd=ROOT, env=e, capture_output=True, text=True, timeout=timeout)


# --- test tiers -------------------------------------------------------------------------------------------------------
# `pytest -m "not slow"` (make test-fast) is the inner loop; `make test` runs everything. The summary below adds up the
# time of each tier, so the duration report shows the split and where a slow test crept into the fast tier.
_tiers: dict[str, dict[str, float]] = {"slow": {}, "fast": {}}


def pytest_runtest_logreport(report):
    tier = "slow" if "slow" in report.keywords else "fast"
    # set-up, call and teardown of each test, module-scoped fixtures included in the first test that needs them
    _tiers[tier][report.nodeid] = _tiers[tier].get(report.nodeid, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    terminalreporter.section("time per test tier (set-up + call + teardown)")
    for tier, tests in _tiers.items():
        terminalreporter.write_line(f"{tier:>5}: {len(tests):3d} tests {sum(tests.values()):8.1f} s")


@pytest.fixture(scope="session")
def fixture_model(tmp_path_factory) -> Path:
    "A model trained on synthetic images that stand for 5 m per pixel (`pipeline.fixture_run`), once for all the tests that score rasters."
    import json
    from aerial_nb.pipeline import fixture_run
    from aerial_nb.settings import load_settings
    from aerial_nb.spark import get_spark
    root = tmp_path_factory.mktemp("fixture_model")
    spark = get_spark(load_settings(overrides={"paths": {"outputs_dir": str(root / "outputs")}}), app_name="fixture_model")
    try: run = fixture_run("train", spark, root=root / "fx")
    finally: spark.stop()
    return Path(json.loads((run.run_dir / "metrics.json").read_text())["model_path"])


@pytest.fixture(scope="session")
def cut_at_model_scale(fixture_model):
    "`cut(rasters, out, stride_m)`: a window tile set of `rasters` at the fixture model's scale (360 m tiles of 72 px)."
    import json
    from aerial_nb.scale import model_scale, tiling_for
    from aerial_nb.tiles import tile_rasters
    scale = model_scale(json.loads((fixture_model / "aerial_nb.json").read_text()))
    return lambda rasters, out, stride_m: tile_rasters(rasters, out, write_images=False, **tiling_for(scale, stride_m))
