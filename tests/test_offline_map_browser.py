"""Open the offline maps in headless Chromium with no network: tiles and imagery must be drawn; a broken map must fail."""
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from helpers import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = ROOT / "outputs" / "screenshots"
# Slow tier (headless Chromium): left out of `make test-fast`, run by `make test`.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")]


def _chromium(*args, timeout=120) -> str:
    profile = tempfile.mkdtemp(prefix="aerial-chromium-")
    try:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
               # no network at all: every host name fails to resolve and any proxy use goes nowhere
               "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
               "--virtual-time-budget=8000", "--window-size=1200,900", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout).stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def drawn(html: Path) -> dict:
    "What Chromium drew: tile paths in the SVG, imagery overlays, and the page's own count of tiles drawn."
    dom = _chromium("--dump-dom", html.resolve().as_uri())
    verdict = re.search(r'id="aerial-verdict" data-trusted="(\w+)".*?<summary[^>]*>(.*?)</summary>', dom, re.S)
    status = re.search(r'id="aerial-status"[^>]*data-tiles-drawn="(-?\d+)"', dom) or \
             re.search(r'data-tiles-drawn="(-?\d+)"[^>]*id="aerial-status"', dom)
    return {"paths": len(re.findall(r'<path[^>]*class="leaflet-interactive"', dom)),
            "overlays": len(re.findall(r'<img[^>]*leaflet-image-layer', dom)),
            "tiles_drawn": int(status.group(1)) if status else None, "dom_bytes": len(dom),
            "verdict": verdict.groups() if verdict else None}


@pytest.fixture(scope="module")
def maps(tmp_path_factory):
    import pandas as pd
    from aerial_nb.map_qa import map_qa
    from aerial_nb.offline_map import region_maps
    from aerial_nb.testing import make_fixture_geotiff
    from aerial_nb.tiles import tile_rasters
    tmp = tmp_path_factory.mktemp("maps")
    for ymd, seed in [("20100629", 1), ("20200831", 2)]:
        make_fixture_geotiff(tmp / "r" / f"m_4709963_se_14_1_{ymd}.tif", seed=seed)
    tiles = tile_rasters(tmp / "r", tmp / "t", footprint_m=100, write_images=False)
    rng = np.random.default_rng(0)
    classes = ["cultivated", "forest", "water"]
    p = rng.dirichlet([1, 1, 1], len(tiles))
    preds = tiles.assign(**{f"prob_{c}": p[:, i] for i, c in enumerate(classes)},
                         pred_label=np.array(classes)[p.argmax(1)], model_name="fixture", run_id="r0")
    # The verdict of the fixture's real spectral QA: random classes cannot meet its goals.
    qa = map_qa(preds.assign(source_path=preds.source_path.map(lambda p: str(Path(p).resolve()))), tmp / "qa", cell_km2=0.01)
    qa_tiles = pd.read_csv(tmp / "qa" / "qa_tiles.csv")
    return preds, region_maps(preds, tmp / "out", thumbnails=10, overlay_px=128, qa=qa_tiles, verdict=qa["verdict"])


def test_map_draws_tiles_and_imagery_offline(maps):
    preds, out = maps
    n_2020 = int((preds.acq_date.str[:4] == "2020").sum())
    got = drawn(out["map"])
    print(f"\nmap: {got}")
    assert got["tiles_drawn"] == n_2020, got      # the last year is shown first
    assert got["paths"] == n_2020, got
    assert got["overlays"] == 1, got
    assert got["verdict"] and got["verdict"][0] == "false" and got["verdict"][1].startswith("Map not trusted: fails"), got   # random classes
    SHOTS.mkdir(parents=True, exist_ok=True)
    _chromium(f"--screenshot={SHOTS / 'fixture_map.png'}", out["map"].resolve().as_uri())
    assert (SHOTS / "fixture_map.png").stat().st_size > 10_000


def test_change_map_draws_every_matched_tile(maps):
    from aerial_nb.offline_map import change_table
    preds, out = maps
    ch = change_table(preds, "2010", "2020")
    got = drawn(out["change"])
    print(f"\nchange map: {got}, {int(ch.changed.sum())} changed")
    assert got["tiles_drawn"] == len(ch) == got["paths"], got
    assert got["overlays"] == 1, got
    assert got["verdict"] and got["verdict"][0] == "false", got
    _chromium(f"--screenshot={SHOTS / 'fixture_change.png'}", out["change"].resolve().as_uri())
    assert (SHOTS / "fixture_change.png").stat().st_size > 10_000


def test_broken_map_is_caught(maps, tmp_path):
    "Negative control: the same page with Leaflet's script emptied must not pass the checks above."
    _, out = maps
    html = out["map"].read_text()
    start = html.index("<script>") + len("<script>")
    broken = tmp_path / "broken.html"
    broken.write_text(html[:start] + html[html.index("</script>", start):])
    got = drawn(broken)
    assert got["paths"] == 0 and got["overlays"] == 0 and got["tiles_drawn"] == -1, got


def test_folium_run_map_is_self_contained(maps, tmp_path):
    "The run's folium map (06_visualize's map.html) draws every tile and the imagery with no network too."
    from aerial_nb.visualize import prediction_map
    preds, _ = maps
    year = preds[preds.acq_date.str[:4] == "2020"]
    page = prediction_map(year, tmp_path / "map.html", title="fixture")
    got = drawn(page)
    print(f"\nfolium map: {got}")
    assert got["paths"] == len(year), got
    assert got["overlays"] == year.source_path.nunique() == 1, got
    _chromium(f"--screenshot={SHOTS / 'fixture_folium_map.png'}", page.resolve().as_uri())
    assert (SHOTS / "fixture_folium_map.png").stat().st_size > 10_000
