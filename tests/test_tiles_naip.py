"Integration test: tile one real NAIP GeoTIFF from ../shared/data/naip_nd (skipped when absent)."
import math
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

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
