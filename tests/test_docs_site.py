"""The documentation site (`make docs` → _docs/) in headless Chromium with no network, page by page: no console error,
every internal link resolves, every image is drawn, search finds `sample_frac`, and a map page draws its tiles."""
import functools
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from cdp import Browser
from helpers import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SITE = Path(os.environ.get("AERIAL_NB_SITE", ROOT / "_docs"))
SHOTS = ROOT / "outputs" / "screenshots"
# The prediction maps carry optional online base layers (folium's OpenStreetMap, Esri's imagery) under the tiles; with
# no network their tile requests fail and the map draws the scored imagery itself instead (aerial_nb.visualize). Those
# tile images alone are let off; any other failed load (a CDN script, a missing file) fails the test.
ONLINE_BASE_LAYERS = ("https://tile.openstreetmap.org/", "https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")]

# What a page is made of, read in the page after it loaded: the links and images it holds, and the map tiles drawn
# (Leaflet's SVG paths) in the page or in the maps embedded in it (folium's srcdoc iframes are same-origin).
INSPECT = """(() => {
  const docs = [document, ...[...document.querySelectorAll('iframe')].map(f => f.contentDocument).filter(d => d)];
  return {
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    images: [...document.images].map(i => ({src: i.currentSrc.slice(0, 120), drawn: i.complete && i.naturalWidth > 0,
                                            w: i.naturalWidth, h: i.naturalHeight, tile: i.classList.contains('leaflet-tile')})),
    maps: docs.filter(d => d.querySelector('.leaflet-container')).map(d => ({
      drawn: d.querySelectorAll('path.leaflet-interactive:not(.aerial-qa)').length,
      // the offline region maps (aerial_nb.offline_map) count the tiles they drew; folium's maps hold one L.rectangle each
      counted: d.getElementById('aerial-status') ? +d.getElementById('aerial-status').dataset.tilesDrawn : null,
      rectangles: [...d.scripts].map(s => (s.text.match(/L\\.rectangle\\(/g) || []).length).reduce((a, b) => a + b, 0)})),
  };
})()"""


def visit(browser: Browser, page: Path) -> dict:
    errors = browser.goto(page.resolve().as_uri(), settle=0.5)
    got = browser.js(INSPECT)
    base_layer = [e for e in errors if e["kind"] == "log.network" and e["url"].startswith(ONLINE_BASE_LAYERS)]
    online_tiles = [i for i in got["images"] if i["tile"] and i["src"].startswith(ONLINE_BASE_LAYERS)]
    return {**got, "images": [i for i in got["images"] if i not in online_tiles],
            "errors": [e for e in errors if e not in base_layer], "base_layer_misses": len(base_layer)}


def link_problem(href: str, site: Path) -> str | None:
    "Why an internal link does not resolve (None when it does); links off the site are not this test's business."
    u = urlsplit(href)
    if u.scheme != "file": return None
    target = Path(unquote(u.path))
    if site.resolve() not in (target, *target.parents): return f"{href}: points outside the site"
    if target.is_dir(): target = target / "index.html"
    if not target.is_file(): return f"{href}: no such file"
    if u.fragment and target.suffix == ".html" and unquote(u.fragment) not in anchors(target): return f"{href}: no such anchor"
    return None


@functools.lru_cache(maxsize=None)
def anchors(page: Path) -> frozenset:
    return frozenset(m.group(2) for m in re.finditer(r'\b(id|name)="([^"]*)"', page.read_text(errors="replace")))


def pages_of(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if p.name != "404.html")


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").is_file():
        pytest.skip(f"no built site at {SITE}: run `make docs` first (.ci/run does), or set AERIAL_NB_SITE")
    return SITE


@pytest.fixture(scope="module")
def visited(site):
    "Every page of the site, visited once by one browser."
    with Browser(CHROMIUM) as b:
        pages = {p.relative_to(site).as_posix(): visit(b, p) for p in pages_of(site)}
        SHOTS.mkdir(parents=True, exist_ok=True)
        for name, rel in [("home", "index.html"), ("step", "03_train.html"), ("api", "api/pipeline.html")]:
            if (site / rel).is_file():
                b.goto((site / rel).resolve().as_uri(), settle=0.5); b.screenshot(SHOTS / f"site_{name}.png")
    print(f"\n{len(pages)} pages; base-layer requests that failed offline (expected): "
          f"{sum(p['base_layer_misses'] for p in pages.values())}")
    return pages


def test_every_page_loads_without_console_errors(visited):
    bad = {page: v["errors"] for page, v in visited.items() if v["errors"]}
    assert len(visited) >= 20 and not bad, bad


def test_every_internal_link_resolves(visited, site):
    n = sum(len(v["links"]) for v in visited.values())
    bad = sorted({p for v in visited.values() for href in v["links"] if (p := link_problem(href, site))})
    print(f"\n{n} links checked")
    assert not bad, bad


def test_every_image_is_drawn(visited):
    images = [(page, i) for page, v in visited.items() for i in v["images"]]
    bad = [(page, i) for page, i in images if not i["drawn"]]
    print(f"\n{len(images)} images on {len({p for p, _ in images})} pages")
    assert images and not bad, bad


def test_a_map_page_draws_its_tiles(visited):
    "Every page that holds a prediction map draws one SVG tile per rectangle of the map; at least one page has one."
    maps = {page: [(m["drawn"], m["rectangles"] if m["counted"] is None else m["counted"]) for m in v["maps"]]
            for page, v in visited.items() if v["maps"]}
    print(f"\nmap pages [(tiles drawn, tiles expected) per map]: {maps}")
    assert maps, "no page of the site holds a map: was the site built from a run that scored tiles (make docs-run)?"
    assert all(drawn == expected > 0 for ms in maps.values() for drawn, expected in ms), maps


OUTPUT = re.compile(r'class="[^"]*\bjp-OutputArea-output\b')   # a rendered output (the page's CSS names it too)


def test_every_notebook_page_shows_outputs(site):
    "Issue 30: a reader sees each notebook's examples with their outputs, without running anything (make docs)."
    notebooks = sorted(p.stem for p in (ROOT / "nbs").glob("*.ipynb") if p.stem != "index")
    shown = {nb: len(OUTPUT.findall((site / f"{nb}.html").read_text(errors="replace")))
             for nb in notebooks if (site / f"{nb}.html").is_file()}
    print(f"\noutputs shown per page: {shown}")
    assert set(shown) == set(notebooks), sorted(set(notebooks) - set(shown))
    assert all(shown.values()), [nb for nb, n in shown.items() if not n]


def test_search_finds_sample_frac(site):
    "Material's own search box, offline: type the word into it and read the results list."
    with Browser(CHROMIUM) as b:
        assert not b.goto((site / "index.html").resolve().as_uri(), settle=1.0)
        hits = b.js("""new Promise(resolve => {
          const input = document.querySelector('input.md-search__input');
          input.focus(); input.value = 'sample_frac'; input.dispatchEvent(new Event('input', {bubbles: true}));
          const t0 = Date.now();
          const poll = () => {
            const items = [...document.querySelectorAll('.md-search-result__item')];
            if (items.length || Date.now() - t0 > 20000)
              resolve(items.map(i => ({href: i.querySelector('a').href, text: i.innerText.slice(0, 300)})));
            else setTimeout(poll, 200);
          };
          poll();
        })""", timeout=40)
        b.screenshot(SHOTS / "site_search.png")
    print(f"\n{len(hits)} results for sample_frac: {[h['href'].rsplit('/', 1)[-1] for h in hits]}")
    assert hits and any("sample_frac" in h["text"] for h in hits), hits
    assert all(link_problem(h["href"], site) is None for h in hits), hits


def test_a_broken_page_is_caught(site, tmp_path):
    "Negative control: a page with a script error, a missing image and a dead link must fail the checks above."
    shutil.copytree(site, tmp_path / "site")
    page = tmp_path / "site" / "index.html"
    page.write_text(page.read_text().replace("</body>", '<img src="missing.png"><a href="nowhere.html">x</a>'
                                                       '<script>notAFunction()</script></body>'))
    with Browser(CHROMIUM) as b:
        got = visit(b, page)
    kinds = {e["kind"] for e in got["errors"]}
    assert {"exception", "log.network"} <= kinds, got["errors"]
    assert any(not i["drawn"] for i in got["images"])
    assert any(link_problem(h, tmp_path / "site") for h in got["links"])
