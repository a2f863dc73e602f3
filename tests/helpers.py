"""Helpers shared by the tests and the benchmarks: where the real data is, a subset of it, the `aerial-nb` command with
a run's outputs elsewhere, and the ranged reads GDAL makes from blob storage.

A plain module, imported as `helpers`: pyproject.toml's pytest `pythonpath` puts tests/ on `sys.path` (the scripts in
bench/ add it themselves). conftest.py keeps only pytest's hooks and fixtures: pytest loads it as a plugin, and a second
import of it as a module would be a second copy of its state. The fixtures the notebooks need too (images, GeoTIFFs, a
fixture run, a standalone cluster) are in `aerial_nb.testing`.
"""
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Real imagery lives beside the project (never inside it); $AERIAL_NB_TEST_DATA points elsewhere.
SHARED_DATA = Path(os.environ.get("AERIAL_NB_TEST_DATA", ROOT.parent / "shared" / "data"))
UCMERCED = SHARED_DATA / "ucmerced"
NAIP = SHARED_DATA / "naip_nd"
# The project's model store: tests share its ONNX exports instead of exporting the networks again.
MODEL_STORE = ROOT / "outputs" / "model_store"


def need(path: Path):
    "Skip the test, saying why, when a real data set is absent."
    if not path.is_dir():
        pytest.skip(f"real data {path} is absent (set AERIAL_NB_TEST_DATA to a folder holding ucmerced/ and naip_nd/)")


def ucmerced_subset(dest: Path, classes: list[str], per_class: int) -> Path:
    "The first `per_class` images of each of `classes` of UC Merced, copied to `dest/<class>/`; skips if it is absent."
    need(UCMERCED)
    for c in classes:
        (dest / c).mkdir(parents=True)
        for f in sorted((UCMERCED / c).iterdir())[:per_class]: shutil.copy(f, dest / c / f.name)
    return dest


def cli_env(outputs: Path | None = None, **extra: str) -> dict:
    "This process's environment for a command of the project: its outputs in `outputs`, the project's model store."
    return {**os.environ, **({"AERIAL_NB_PATHS_OUTPUTS_DIR": str(outputs)} if outputs is not None else {}),
            "AERIAL_NB_PATHS_MODEL_STORE": str(MODEL_STORE), **extra}


def aerial_nb(*args, outputs: Path, env: dict | None = None, timeout: int = 1500) -> subprocess.CompletedProcess:
    "Run the `aerial-nb` command of this environment with its outputs in `outputs`."
    exe = Path(sys.executable).parent / "aerial-nb"
    return subprocess.run([str(exe), *args], cwd=ROOT, env=cli_env(outputs, **(env or {})), capture_output=True,
                          text=True, timeout=timeout)


class GdalRanges(logging.Handler):
    "Byte ranges GDAL's Azure reader says it downloads (CPL_DEBUG `AZURE: Downloading a-b (url)`): (a, b, url)."
    def __init__(self):
        super().__init__(logging.DEBUG); self.ranges = []
    def emit(self, record):
        m = re.search(r"Downloading (\d+)-(\d+) (?:\((\S+)\))?", record.getMessage())
        if m: self.ranges.append((int(m.group(1)), int(m.group(2)), m.group(3)))
    def bytes(self) -> int: return sum(b - a + 1 for a, b, _ in self.ranges)


def count_ranged_reads(fn, **gdal_options):
    "Run `fn()` with GDAL's debug messages on (and `gdal_options`); return its result and the ranged GETs it made."
    import rasterio
    log, seen = logging.getLogger("rasterio"), GdalRanges()
    level = log.level
    log.setLevel(logging.DEBUG); log.addHandler(seen)
    try:
        with rasterio.Env(CPL_DEBUG="ON", **gdal_options): out = fn()
    finally:
        log.removeHandler(seen); log.setLevel(level)
    return out, seen
