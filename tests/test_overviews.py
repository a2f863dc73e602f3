"""Issue 31, item 2: the map must not depend on whether a GeoTIFF carries overviews. `aerial-nb tile` (its own process,
as a scoring worker reads windows in its own) of a raster with a nearest-neighbour internal overview and of the same
pixels without one writes the same tiles, pixel for pixel; GDAL's own shrinking read of the two differs."""
import shutil

import numpy as np
import pandas as pd
import pytest
import rasterio
import rasterio.shutil
from PIL import Image
from rasterio.enums import Resampling
from rasterio.windows import Window

from aerial_nb.testing import make_fixture_geotiff
from helpers import NAIP, aerial_nb

NAIP_CLIP = "m_4709963_se_14_1_20200831.tif"
DEFAULT_TILING = ["--footprint-m", "640", "--stride-m", "160", "--tile-px", "64"]   # the default map's tiles


def _with_and_without_overview(src: str, tmp_path) -> tuple:
    "Folders `plain/` and `ovr/` holding the pixels of `src` under its name, without and with a nearest overview."
    plain, ovr = tmp_path / "plain", tmp_path / "ovr"
    plain.mkdir(); ovr.mkdir()
    name = src.rsplit("/", 1)[-1]
    rasterio.shutil.copy(src, plain / name, driver="GTiff")   # GTiff's copy leaves the source's overviews behind
    shutil.copy(plain / name, ovr / name)
    with rasterio.open(ovr / name, "r+") as dst: dst.build_overviews([2, 4], Resampling.nearest)
    with rasterio.open(plain / name) as a, rasterio.open(ovr / name) as b:
        assert (a.overviews(1), b.overviews(1)) == ([], [2, 4])
        assert np.array_equal(a.read(), b.read())
    return plain, ovr, name


def _gdal_shrink_differs(plain, ovr, name) -> float:
    "Mean absolute difference of GDAL's own 2x shrink of the two files (the overview it reads): the old tiles' error."
    win = Window(0, 0, 128, 128)
    with rasterio.open(plain / name) as a, rasterio.open(ovr / name) as b:
        r = [s.read([1, 2, 3], window=win, out_shape=(3, 64, 64), resampling=Resampling.bilinear).astype(int)
             for s in (a, b)]
    return float(np.abs(r[0] - r[1]).mean())


def _tile_both(plain, ovr, tmp_path, args) -> list[str]:
    "Tile both folders with `aerial-nb tile`; assert the same tiles.csv (but the path) and every PNG identical."
    for d in (plain, ovr):
        r = aerial_nb("tile", str(d), "--out", str(tmp_path / f"t_{d.name}"), *args, outputs=tmp_path / "o")
        assert r.returncode == 0, r.stdout + r.stderr
    ta, tb = (pd.read_csv(tmp_path / f"t_{d.name}" / "tiles.csv") for d in (plain, ovr))
    pd.testing.assert_frame_equal(ta.drop(columns="source_path"), tb.drop(columns="source_path"))
    differ = [f for f in ta.filename if not np.array_equal(np.asarray(Image.open(tmp_path / "t_plain" / f)),
                                                           np.asarray(Image.open(tmp_path / "t_ovr" / f)))]
    assert not differ, f"{len(differ)} of {len(ta)} tiles differ with an overview, e.g. {differ[:3]}"
    return list(ta.filename)


def test_synthetic_raster_with_and_without_overview_gives_the_same_tiles(tmp_path):
    src = make_fixture_geotiff(tmp_path / "src" / "scene.tif", 240, height=200, nodata=None)
    plain, ovr, name = _with_and_without_overview(str(src), tmp_path)
    assert _gdal_shrink_differs(plain, ovr, name) > 1   # the fixture does exercise the overview
    names = _tile_both(plain, ovr, tmp_path, ["--footprint-m", "100", "--stride-m", "50", "--tile-px", "10"])
    assert len(names) > 50


@pytest.mark.integration
def test_naip_clip_with_and_without_overview_gives_the_same_tiles(tmp_path):
    if not (NAIP / NAIP_CLIP).is_file():
        pytest.skip(f"real NAIP data not found at {NAIP} (needs ../shared/data/naip_nd beside the repo)")
    plain, ovr, name = _with_and_without_overview(str(NAIP / NAIP_CLIP), tmp_path)
    assert _gdal_shrink_differs(plain, ovr, name) > 1
    assert len(_tile_both(plain, ovr, tmp_path, DEFAULT_TILING)) == 494
