"""pytest's hooks and the fixtures shared by the test modules. Plain helpers (data locations, the `aerial-nb` runner)
are in helpers.py; fixtures the notebooks use too are in `aerial_nb.testing`."""
import json
from pathlib import Path

import pytest

from azurite import Azurite


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
    """A model trained on synthetic images that stand for 5 m per pixel (`testing.fixture_run`), once for all the tests
    that score rasters."""
    from aerial_nb.run_folder import RunFolder
    from aerial_nb.settings import load_settings
    from aerial_nb.spark import get_spark
    from aerial_nb.testing import fixture_run
    root = tmp_path_factory.mktemp("fixture_model")
    spark = get_spark(load_settings(overrides={"paths": {"outputs_dir": str(root / "outputs")}}), app_name="fixture_model")
    try: run = fixture_run("train", spark, root=root / "fx")
    finally: spark.stop()
    return Path(json.loads(RunFolder(run.run_dir).metrics.read_text())["model_path"])


@pytest.fixture(scope="session")
def cut_at_model_scale(fixture_model):
    "`cut(rasters, out, stride_m)`: a window tile set of `rasters` at the fixture model's scale (360 m tiles of 72 px)."
    from aerial_nb.run_folder import model_meta
    from aerial_nb.scale import model_scale, tiling_for
    from aerial_nb.tiles import tile_rasters
    scale = model_scale(json.loads(model_meta(fixture_model).read_text()))
    return lambda rasters, out, stride_m: tile_rasters(rasters, out, write_images=False, **tiling_for(scale, stride_m))


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    "A real Azurite (blob service) for each test module that asks for it, stopped after its last test; skips if absent."
    az = Azurite(tmp_path_factory.mktemp("azurite"))
    yield az
    az.stop()


@pytest.fixture(scope="module")
def azurite_env(azurite):
    "`azurite`, with its connection string in the environment (the only place credentials come from) for the module."
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
        yield azurite
