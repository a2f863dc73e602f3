"""The labeling page (`aerial-nb label`) in headless Chromium with no network: keys give labels, LABELS.csv holds each one
the page was told is saved, a restarted server resumes where the labels stop, and a server killed (SIGKILL) right after
answering has the label on disk."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import rasterio
from rasterio.windows import Window

from cdp import Browser
from helpers import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = ROOT / "outputs" / "screenshots"
# Slow tier (headless Chromium): left out of `make test-fast`, run by `make test`.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")]

KEYS = {"Backspace": ("Backspace", 8), "ArrowRight": ("ArrowRight", 39), "ArrowLeft": ("ArrowLeft", 37),
        "Enter": ("Enter", 13)}


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    "Two years of a fixture raster and six 80 m squares on them, with a model's guess each."
    from aerial_nb.label_page import square_record
    from aerial_nb.testing import make_fixture_geotiff
    tmp = tmp_path_factory.mktemp("label_page")
    rows = []
    for ymd, seed in [("20100629", 1), ("20200831", 2)]:
        path = make_fixture_geotiff(tmp / "rasters" / f"m_4709963_se_14_1_{ymd}.tif", width=200, height=160,
                                    nodata_corner=False, seed=seed)
        with rasterio.open(path) as src:
            for k, col in enumerate((30, 90, 150)):
                rows.append(square_record(src, path.name, f"sq{ymd[:4]}_{k}", Window(col, 64, 16, 16),
                                          selection="random") | {"pred_label": "water"})
    cands = tmp / "candidates.csv"
    pd.DataFrame(rows).to_csv(cands, index=False)
    return tmp, cands, len(rows)


class Server:
    "`aerial-nb label` as a person starts it, in its own process; `.url` from the line it prints."
    def __init__(self, labels, cands, rasters, *args):
        code = "import sys; from aerial_nb.cli import main; sys.exit(main(sys.argv[1:]))"
        self.proc = subprocess.Popen([sys.executable, "-c", code, "label", str(labels), "--squares", str(cands),
                                      "--rasters", str(rasters), *args], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("Labeling page: "):
            self.proc.kill()
            raise AssertionError(f"no address from aerial-nb label: {line!r} {self.proc.stderr.read()}")
        self.url = line.split(": ", 1)[1].strip()

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try: self.proc.wait(20)
            except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()


def press(b: Browser, key: str):
    "One key as a person presses it: keyDown (with its text for a character), keyUp."
    name, vk = KEYS[key] if key in KEYS else (key, ord(key.upper()))
    down = {"type": "keyDown", "key": name, "windowsVirtualKeyCode": vk,
            "code": f"Key{key.upper()}" if len(key) == 1 and key.isalpha() else name}
    if len(key) == 1: down["text"] = key
    b.send("Input.dispatchKeyEvent", down)
    b.send("Input.dispatchKeyEvent", {**down, "type": "keyUp", "text": ""})


def wait_for(b: Browser, expression: str, timeout: float = 20):
    deadline = time.time() + timeout
    while not b.js(expression):
        if time.time() > deadline: raise AssertionError(f"page never reached {expression}: {b.js('document.body.innerText')}")
        time.sleep(0.05)


def open_page(b: Browser, url: str):
    assert b.goto(url, settle=0.2) == []
    wait_for(b, "document.body.dataset.ready === '1'")
    # both images of the square are drawn (from the server, nothing else reachable)
    wait_for(b, "['true', 'false'].every(v => document.getElementById(v).complete && document.getElementById(v).naturalWidth > 0)")


def labels_of(path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False)


def test_keys_label_squares_and_resume(squares, tmp_path):
    tmp, cands, n = squares
    labels = tmp_path / "labels.csv"
    server = Server(labels, cands, tmp / "rasters")
    try:
        with Browser(CHROMIUM, loopback=True) as b:
            open_page(b, server.url)
            assert b.js("document.getElementById('progress').textContent") == f"0 / {n} labeled"
            assert "model's guess: water" in b.js("document.getElementById('guess').textContent")
            press(b, "w")                                            # sq2010_0: water
            press(b, "m"); press(b, "c")                             # sq2010_1: cultivated, mixed
            press(b, "n")                                            # a note with the next label
            b.send("Input.insertText", {"text": "pond about 40%"})
            press(b, "Enter"); press(b, "g")                         # sq2010_2: grassland, with the note
            wait_for(b, "window.aerialLabels.saved === 3")
            got = labels_of(labels)
            assert got.tile_id.tolist() == ["sq2010_0", "sq2010_1", "sq2010_2"]
            assert got.label.tolist() == ["water", "cultivated", "grassland"]
            assert got.confidence.tolist() == ["clear", "mixed", "clear"]
            assert got.note.tolist() == ["", "", "pond about 40%"]
            assert list(got.columns) == list(pd.read_csv(cands).columns.drop("pred_label"))  # the labels schema
            press(b, "Backspace"); press(b, "d")                     # back to sq2010_2: developed now (later wins)
            press(b, "5")                                            # sq2020_0: forest (keys 1-5 too)
            wait_for(b, "window.aerialLabels.saved === 5")
            got = labels_of(labels).set_index("tile_id")
            assert len(got) == 4 and got.label.to_dict() == {"sq2010_0": "water", "sq2010_1": "cultivated",
                                                             "sq2010_2": "developed", "sq2020_0": "forest"}
            assert got.note["sq2010_2"] == "pond about 40%"           # kept when labeled again
            assert b.js("document.getElementById('progress').textContent") == f"4 / {n} labeled"
            SHOTS.mkdir(parents=True, exist_ok=True)
            b.screenshot(SHOTS / "fixture_label_page.png")
            assert b.errors() == [], b.errors()
    finally:
        server.stop()
    # Restarted: the page opens on the first square without a label, the labels as they were.
    server = Server(labels, cands, tmp / "rasters")
    try:
        with Browser(CHROMIUM, loopback=True) as b:
            open_page(b, server.url)
            assert b.js("window.aerialLabels.cur") == 4
            assert b.js("document.getElementById('square').textContent").startswith("sq2020_1 · 2020-08-31 · 80 m square 5 of 6")
            assert b.js("document.getElementById('progress').textContent") == f"4 / {n} labeled"
            press(b, "ArrowLeft")                                    # a labeled square shows its label
            assert b.js("document.getElementById('current').textContent") == "labeled: forest"
    finally:
        server.stop()
    assert len(labels_of(labels)) == 4


def test_label_survives_sigkill(squares, tmp_path):
    "The server answers only once LABELS.csv holds the label: killed at once after the answer, the label is there."
    tmp, cands, _ = squares
    labels = tmp_path / "labels.csv"
    server = Server(labels, cands, tmp / "rasters")
    try:
        with Browser(CHROMIUM, loopback=True) as b:
            open_page(b, server.url)
            press(b, "f"); press(b, "g")
            wait_for(b, "window.aerialLabels.saved === 2", timeout=20)
            server.proc.send_signal(signal.SIGKILL); server.proc.wait(10)
    finally:
        server.stop()
    assert labels_of(labels).label.tolist() == ["forest", "grassland"]
    assert not [p for p in os.listdir(tmp_path) if p != "labels.csv"], os.listdir(tmp_path)   # no temporary left


def test_blind_page_shows_nothing_from_the_model(squares, tmp_path):
    tmp, cands, _ = squares
    server = Server(tmp_path / "labels.csv", cands, tmp / "rasters", "--blind")
    try:
        with Browser(CHROMIUM, loopback=True) as b:
            open_page(b, server.url)
            text = b.js("document.body.innerText")
            assert "blind: nothing from a model is shown" in text and "guess" not in text, text
            assert b.js("document.getElementById('guess').textContent") == ""
            assert "guess" not in b.js("fetch('state').then(r => r.text())")
    finally:
        server.stop()
