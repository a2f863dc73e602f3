"Integration test: tile one real NAIP GeoTIFF from ../shared/data/naip_nd (skipped when absent)."
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from aerial_nb.run_folder import leftovers
from aerial_nb.tiles import REQUIRED_TILE_COLUMNS, read_tile_set, tile_raster

from helpers import NAIP as NAIP_DIR   # honours $AERIAL_NB_TEST_DATA
FOOTPRINT_M, RES_M = 224.0, 5.0
# transform_bounds densifies tile edges, so corners may sit a hair outside the file's bounds.
TOL_DEG = 1e-5

# One worker takes the whole module under `pytest -n` (make test-fast), so that `tiled` cuts the raster once.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("tiles_naip")]


@pytest.fixture(scope="module")
def naip():
    if not (NAIP_DIR / "files.csv").is_file():
        pytest.skip(f"real NAIP data not found at {NAIP_DIR} (needs ../shared/data/naip_nd beside the repo)")
    files = pd.read_csv(NAIP_DIR / "files.csv", dtype={"acq_date": str})
    row = files.sort_values("file").iloc[0]
    return NAIP_DIR / row.file, row


@pytest.fixture(scope="module")
def tiled(naip, tmp_path_factory):
    path, row = naip
    out = tmp_path_factory.mktemp("naip_tiles")
    return tile_raster(path, out, footprint_m=FOOTPRINT_M), out


def test_tile_count(naip, tiled):
    _, row = naip
    df, _ = tiled
    expected = math.floor(row.width * RES_M / FOOTPRINT_M) * math.floor(row.height * RES_M / FOOTPRINT_M)
    assert df.attrs["n_windows"] == expected
    # NAIP clips are fully covered, so nothing should be dropped as nodata.
    assert len(df) + df.attrs["skipped_nodata"] == expected
    assert len(df) == expected


def test_corners_inside_file_bounds(naip, tiled):
    _, row = naip
    df, _ = tiled
    assert (df.llcrnrlat < df.urcrnrlat).all() and (df.llcrnrlon < df.urcrnrlon).all()
    assert df.llcrnrlat.min() >= row.lat_min - TOL_DEG
    assert df.urcrnrlat.max() <= row.lat_max + TOL_DEG
    assert df.llcrnrlon.min() >= row.lon_min - TOL_DEG
    assert df.urcrnrlon.max() <= row.lon_max + TOL_DEG


def test_pngs_and_tile_set(tiled):
    df, out = tiled
    ts = read_tile_set(out)
    assert list(ts.filename) == list(df.filename)
    assert set(REQUIRED_TILE_COLUMNS) <= set(ts.columns)
    for p in ts.path:
        with Image.open(p) as im:
            assert im.size == (224, 224) and im.mode == "RGB"


def test_acq_date_matches_name(naip, tiled):
    path, row = naip
    df, _ = tiled
    ymd = path.stem.rsplit("_", 1)[1]
    assert ymd == row.acq_date
    assert set(df.acq_date) == {f"{ymd[:4]}-{ymd[4:6]}-{ymd[6:]}"}
    assert set(df.source) == {path.name}


# The child re-tiles at another tile size (same names, other bytes), each PNG slowed by 20 ms so that the kill lands
# halfway on any machine; everything else is the real tiler writing real files.
RETILE = """import sys, time
from PIL import Image
_save = Image.Image.save
def slow_save(self, *a, **kw): time.sleep(0.02); return _save(self, *a, **kw)
Image.Image.save = slow_save
from aerial_nb.tiles import tile_raster
tile_raster(sys.argv[1], sys.argv[2], footprint_m=224.0, tile_px=112)
"""


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_retile_killed_halfway_keeps_the_old_set(naip, tiled, tmp_path):
    "kill -9 a re-tile of the real raster while it writes PNGs: the old set stays whole, byte for byte, and readable."
    path, _ = naip
    _, out = tiled
    tile_set = tmp_path / "tiles"
    shutil.copytree(out, tile_set)
    before = _snapshot(tile_set)
    child = subprocess.Popen([sys.executable, "-c", RETILE, str(path), str(tile_set)])
    try:
        t0, staged = time.time(), []
        while child.poll() is None and time.time() - t0 < 300:
            staged = [p for d in leftovers(tmp_path, of=tile_set) for p in d.glob("*.png")]
            if len(staged) >= 40: break
            time.sleep(0.05)
        assert child.poll() is None, f"the re-tile ended (status {child.returncode}) before it could be killed halfway"
        child.kill()
        child.wait(timeout=60)
    finally:
        if child.poll() is None: child.kill()
    assert 40 <= len(staged) < len(before), len(staged)
    assert _snapshot(tile_set) == before   # not one PNG rewritten, tiles.csv as it was
    assert list(read_tile_set(tile_set).filename) == list(pd.read_csv(out / "tiles.csv").filename)
    assert leftovers(tmp_path, of=tile_set), "a killed process cannot clean up: its staging folder is still there"
    # The next re-tile clears what the killed one left and swaps its own set in whole.
    df = tile_raster(path, tile_set, footprint_m=FOOTPRINT_M, tile_px=112)
    assert not leftovers(tmp_path, of=tile_set)
    assert sorted(p.name for p in tile_set.iterdir()) == sorted([*df.filename, "tiles.csv"])
    with Image.open(tile_set / df.filename[0]) as im: assert im.size == (112, 112)
