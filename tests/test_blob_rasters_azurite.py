"""Real NAIP rasters as COGs in a real Azurite container, tiled and scored straight from az:// (GDAL's /vsiaz/, read in
place, never downloaded whole): every tile equals the one cut from the local file, and a tile's window costs a few blocks."""
import numpy as np
import pandas as pd
import pytest

from azurite import AZURITE_WELL_KNOWN_DEV_KEY, connection_string
from helpers import NAIP, aerial_nb, count_ranged_reads, need

# Slow tier (Azurite, and Spark for scoring): left out of `make test-fast`, run by `make test`.
pytestmark = pytest.mark.slow

# Two acquisitions of the same quarter-quad, so a prefix holds a region of several rasters.
NAMES = ["m_4709963_se_14_1_20090818.tif", "m_4709963_se_14_1_20160816.tif"]
# The NAIP files here are 934 x 724 px in 512 px blocks: a whole file is four blocks. A full NAIP DOQQ (~10000 px a side)
# is served as a COG in 512 px blocks; 128 px blocks keep the same blocks-per-raster proportion on these small rasters.
BLOCK = 128


@pytest.fixture(scope="module")
def blobs(tmp_path_factory, azurite_env):
    "The NAIP rasters as COGs, locally (`cogs/`) and in Azurite under az://rasters/naip/; credentials in the environment only."
    import rasterio
    import rasterio.shutil
    from azure.storage.blob import BlobServiceClient
    need(NAIP)
    az, work = azurite_env, tmp_path_factory.mktemp("blob_rasters")
    svc = BlobServiceClient.from_connection_string(az.connection_string)
    svc.create_container("rasters")
    (work / "cogs").mkdir()
    for n in NAMES:
        with rasterio.open(NAIP / n) as s:
            rasterio.shutil.copy(s, work / "cogs" / n, driver="COG", compress="DEFLATE", blocksize=BLOCK)
        with open(work / "cogs" / n, "rb") as f: svc.get_blob_client("rasters", f"naip/{n}").upload_blob(f)
    svc.get_blob_client("rasters", "naip/README.txt").upload_blob(b"not a raster: listing skips it")
    return az, work


def _count_ranges(fn):
    "`fn()`'s result and its ranged GETs, every read from the network and none from GDAL's cache."
    return count_ranged_reads(fn, CPL_VSIL_CURL_NON_CACHED="/vsiaz/")


def test_tile_from_az_equals_tiles_from_the_local_files(blobs, tmp_path):
    from PIL import Image
    az, work = blobs
    args = ["--footprint-m", "224", "--stride-m", "448", "--tile-px", "32"]
    r_az = aerial_nb("tile", "az://rasters/naip", "--out", str(tmp_path / "t_az"), *args, outputs=tmp_path / "o")
    assert r_az.returncode == 0, r_az.stdout + r_az.stderr
    r_loc = aerial_nb("tile", str(work / "cogs"), "--out", str(tmp_path / "t_loc"), *args, outputs=tmp_path / "o")
    assert r_loc.returncode == 0, r_loc.stdout + r_loc.stderr
    t_az, t_loc = pd.read_csv(tmp_path / "t_az" / "tiles.csv"), pd.read_csv(tmp_path / "t_loc" / "tiles.csv")
    assert len(t_az) > 50 and sorted(t_az.source.unique()) == NAMES
    assert set(t_az.source_path) == {f"az://rasters/naip/{n}" for n in NAMES}   # the tile set keeps the URL, no local copy
    pd.testing.assert_frame_equal(t_az.drop(columns="source_path"), t_loc.drop(columns="source_path"))
    for f in t_az.filename:
        with Image.open(tmp_path / "t_az" / f) as a, Image.open(tmp_path / "t_loc" / f) as b:
            assert np.array_equal(np.asarray(a), np.asarray(b)), f
    assert AZURITE_WELL_KNOWN_DEV_KEY not in (tmp_path / "t_az" / "tiles.csv").read_text() + r_az.stdout + r_az.stderr
    print(f"\n{r_az.stdout.strip()}")


def test_bytes_read_in_place_against_file_size(blobs, tmp_path):
    "Tiling a raster streams it about once; one tile's window, as a scoring worker reads it, a few blocks."
    from aerial_nb.tiles import open_checked_raster, read_tile_rgb, tile_rasters
    az, work = blobs
    url, local = f"az://rasters/naip/{NAMES[0]}", work / "cogs" / NAMES[0]
    size = local.stat().st_size
    cut, whole = _count_ranges(lambda: tile_rasters([url], tmp_path / "t", footprint_m=360, stride_m=90, tile_px=72, write_images=False))
    row = cut.iloc[len(cut) // 2]
    # A scoring worker opens each raster once (header, and the checks: CRS, dtype, its last row readable), then reads
    # one window per tile: the two are counted apart.
    src, opened = _count_ranges(lambda: open_checked_raster(url))
    with src:
        rgb, win = _count_ranges(lambda: read_tile_rgb(src, row.row_off, col_off=row.col_off, win_width=row.win_width, win_height=row.win_height, tile_px=72))
    with open_checked_raster(local) as src:
        assert np.array_equal(rgb, read_tile_rgb(src, row.row_off, col_off=row.col_off, win_width=row.win_width, win_height=row.win_height, tile_px=72))
    print(f"\n{NAMES[0]} as a COG ({BLOCK} px blocks): {size} bytes. Tiling it from az:// ({len(cut)} windows of 72 px): "
          f"{whole.bytes()} bytes in {len(whole.ranges)} ranged GETs ({whole.bytes() / size:.2f} x the file). Opening it "
          f"(header and checks): {opened.bytes()} bytes in {len(opened.ranges)} GETs ({100 * opened.bytes() / size:.1f} %). "
          f"Then one tile's window: {win.bytes()} bytes in {len(win.ranges)} ranged GETs ({100 * win.bytes() / size:.1f} % "
          f"of the file)")
    assert whole.ranges and win.ranges, "GDAL logged no ranged download: the reads did not go through /vsiaz/"
    assert whole.bytes() < 2.5 * size, "tiling streams the raster, it does not read it over and over"
    assert win.bytes() < size / 10, "a tile's window of a tiled COG needs a few blocks, not the whole file"
    assert opened.bytes() < size / 4, "opening reads the header and the last row of blocks, not the whole file"


def test_score_from_az_equals_scoring_the_local_files(blobs, tmp_path, fixture_model):
    "`aerial-nb tile` + `aerial-nb score` straight from az://: Spark's workers read the windows in place, same predictions."
    az, work = blobs
    model = str(fixture_model)
    preds = {}
    for name, src in (("az", "az://rasters/naip"), ("local", str(work / "cogs"))):
        r = aerial_nb("tile", src, "--out", str(tmp_path / f"t_{name}"), "--model", model, "--stride-m", "360",
                      "--no-images", outputs=tmp_path / "o")
        assert r.returncode == 0, r.stdout + r.stderr
        r = aerial_nb("score", str(tmp_path / f"t_{name}"), "--out", str(tmp_path / f"s_{name}"), "--model", model,
                      outputs=tmp_path / "o", timeout=900)
        assert r.returncode == 0, r.stdout + r.stderr
        if name == "az": print(f"\n{r.stdout.strip()}")
        preds[name] = pd.read_parquet(tmp_path / f"s_{name}" / "predictions.parquet").set_index("filename").sort_index()
    a, b = preds["az"], preds["local"]
    assert len(a) > 100 and list(a.index) == list(b.index)
    assert set(a.source_path) == {f"az://rasters/naip/{n}" for n in NAMES}
    assert (a.pred_label == b.pred_label).all()
    probs = [c for c in a.columns if c.startswith("prob_")]
    np.testing.assert_allclose(a[probs].to_numpy(), b[probs].to_numpy(), rtol=0, atol=1e-6)
    # The COG of each acquisition is written from the blob's transform, as from the local file's.
    assert sorted(p.name for p in (tmp_path / "s_az" / "gis").glob("classes_*.tif")) == \
           sorted(p.name for p in (tmp_path / "s_local" / "gis").glob("classes_*.tif"))
    for f in (tmp_path / "s_az").rglob("*"):
        if f.is_file() and f.stat().st_size < 50_000_000:
            assert AZURITE_WELL_KNOWN_DEV_KEY.encode() not in f.read_bytes(), f"credentials written to {f}"


@pytest.mark.parametrize("url, env, says", [
    ("az://rasters/naip/nope.tif", {}, "No raster at az://rasters/naip/nope.tif"),
    ("az://nocontainer/naip", {}, "Container 'nocontainer' does not exist"),
    # no retries: the storage module's retry policy ($AERIAL_NB_STORAGE_RETRIES) would only make the test wait
    ("az://rasters/naip", {"AZURE_STORAGE_CONNECTION_STRING": connection_string(9), "AERIAL_NB_STORAGE_RETRIES": "0"},
     "is unreachable"),
    ("az://rasters/naip", {"AZURE_STORAGE_CONNECTION_STRING": ""}, "AZURE_STORAGE_CONNECTION_STRING"),
])
def test_bad_blob_raster_is_one_line_naming_the_fix(blobs, tmp_path, url, env, says):
    r = aerial_nb("tile", url, "--out", str(tmp_path / "t"), outputs=tmp_path / "o", env=env, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and says in err, err
    assert "Traceback" not in r.stderr and AZURITE_WELL_KNOWN_DEV_KEY not in r.stderr
    assert not (tmp_path / "t").exists()


def test_a_missing_blob_under_a_tile_set_names_it(blobs, tmp_path, fixture_model):
    "A raster deleted after tiling: `aerial-nb score` refuses before Spark starts, naming the blob and the fix."
    from azure.storage.blob import BlobServiceClient
    az, work = blobs
    svc = BlobServiceClient.from_connection_string(az.connection_string)
    svc.get_blob_client("rasters", "gone/m_4709963_se_14_1_20090818.tif").upload_blob(
        (work / "cogs" / NAMES[0]).read_bytes())
    r = aerial_nb("tile", "az://rasters/gone", "--out", str(tmp_path / "t"), "--model", str(fixture_model),
                  "--stride-m", "360", "--no-images", outputs=tmp_path / "o")
    assert r.returncode == 0, r.stderr
    svc.get_blob_client("rasters", "gone/m_4709963_se_14_1_20090818.tif").delete_blob()
    r = aerial_nb("score", str(tmp_path / "t"), "--out", str(tmp_path / "s"), "--model", str(fixture_model),
                  outputs=tmp_path / "o", timeout=120)
    assert r.returncode == 2 and "No blob az://rasters/gone/m_4709963_se_14_1_20090818.tif" in r.stderr, r.stderr


def test_pipeline_score_raster_from_az_is_checked_in_place(blobs, tmp_path):
    "A run's `score_raster: az://…` is listed and checked before any work, and kept as the URL (read in place, not staged)."
    from PIL import Image
    from aerial_nb.pipeline import resolve_inputs, validate_params
    from aerial_nb.settings import load_settings
    from aerial_nb.storage import stage_inputs
    for c in ("field", "water"):   # the smallest image set resolve_inputs accepts: two classes
        (tmp_path / "imgs" / c).mkdir(parents=True)
        for i in range(2): Image.new("RGB", (8, 8), (40 * i, 90, 10)).save(tmp_path / "imgs" / c / f"{i}.png")
    settings = load_settings()
    params = validate_params({"images_dir": str(tmp_path / "imgs"), "score_raster": "az://rasters/naip"})
    got = resolve_inputs(stage_inputs(params, settings, log=lambda m: None), settings)
    assert got["score_raster"] == "az://rasters/naip"
    with pytest.raises(FileNotFoundError, match="No raster at az://rasters/elsewhere"):
        resolve_inputs({**params, "score_raster": "az://rasters/elsewhere"}, settings)
