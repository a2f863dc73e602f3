"""The hand-labeled NAIP check set (params/checksets/naip_nd_check.csv) is well formed and its squares are where it says.

The labels themselves are by eye and cannot be tested; what can fail here is the record: columns, classes, 640 m
squares inside their rasters with data, corners that agree with the centres, and the re-draw matching the CSV.
"""
import csv
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform_bounds
from rasterio.windows import from_bounds

from helpers import NAIP, ROOT, need

CHECK_CSV = ROOT / "params" / "checksets" / "naip_nd_check.csv"
CLASSES = {"water", "cultivated", "grassland", "developed", "forest"}
COLUMNS = ["tile_id", "year", "acq_date", "source", "crs", "center_x", "center_y", "footprint_m", "llcrnrlat",
           "llcrnrlon", "urcrnrlat", "urcrnrlon", "label", "confidence", "selection", "note"]


@pytest.fixture(scope="module")
def rows():
    with CHECK_CSV.open() as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == COLUMNS, f"{CHECK_CSV}: columns {reader.fieldnames}"
        return list(reader)


def test_records_are_complete(rows):
    ids = [r["tile_id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicate tile ids"
    assert len(rows) >= 150
    assert {r["label"] for r in rows} <= CLASSES
    assert {r["confidence"] for r in rows} <= {"clear", "mixed"}
    assert {r["selection"] for r in rows} <= {"random", "targeted"}
    assert all(r["footprint_m"] == "640" and r["crs"] == "EPSG:26914" for r in rows)
    assert all(r["acq_date"].startswith(r["year"]) and r["acq_date"] in r["source"] for r in rows)
    random_per_year = {}
    for r in rows:
        if r["selection"] == "random": random_per_year[r["year"]] = random_per_year.get(r["year"], 0) + 1
    assert len(random_per_year) == 10 and min(random_per_year.values()) >= 10, random_per_year
    assert all(r["note"] for r in rows if r["confidence"] == "mixed"), "a mixed square needs a note saying why"


def test_squares_lie_in_their_rasters_with_data(rows):
    need(NAIP)
    by_source = {}
    for r in rows: by_source.setdefault(r["source"], []).append(r)
    for source, recs in by_source.items():
        with rasterio.open(NAIP / source) as src:
            for r in recs:
                x, y, half = float(r["center_x"]), float(r["center_y"]), float(r["footprint_m"]) / 2
                left, bottom, right, top = x - half, y - half, x + half, y + half
                assert src.bounds.left <= left and right <= src.bounds.right, r["tile_id"]
                assert src.bounds.bottom <= bottom and top <= src.bounds.top, r["tile_id"]
                win = from_bounds(left, bottom, right, top, src.transform).round_offsets().round_lengths()
                assert (win.width, win.height) == (128, 128), (r["tile_id"], win)
                block = src.read(window=win)
                assert block.max(axis=0).min() > 0 and src.read_masks(1, window=win).min() > 0, f"{r['tile_id']}: nodata"
                west, south, east, north = transform_bounds(src.crs, "EPSG:4326", left, bottom, right, top)
                got = np.array([float(r[k]) for k in ("llcrnrlat", "llcrnrlon", "urcrnrlat", "urcrnrlon")])
                assert np.allclose(got, [south, west, north, east], rtol=0, atol=1e-6), r["tile_id"]


def test_redraw_matches_the_csv():
    "The script re-draws the same squares (seed and targeted list unchanged) and says so; --check renders nothing."
    need(NAIP)
    if not (ROOT / "data" / "naip_nd").is_dir(): pytest.skip("data/ is not linked here: run `make data`")
    out = subprocess.run([sys.executable, "tools/checkset_chips.py", "--check"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    assert "matches the draw" in out.stdout
