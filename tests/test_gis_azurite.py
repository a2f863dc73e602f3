"""A COG read straight from Azure Blob Storage (a real Azurite) through GDAL's /vsiaz/: only the blocks of the window travel."""
import numpy as np
import pytest

from helpers import count_ranged_reads

# Slow tier (Azurite): left out of `make test-fast`, run by `make test`.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def blob_cog(tmp_path_factory, azurite):
    "A 3000 x 3000 px RGB COG (deflate, 512 px blocks) in an Azurite container, and its local copy."
    import rasterio
    import rasterio.shutil
    from azure.storage.blob import BlobServiceClient
    from aerial_nb.testing import make_fixture_geotiff
    work = tmp_path_factory.mktemp("gis_azurite")
    src = make_fixture_geotiff(work / "big.tif", width=3000, height=3000, bands=3, nodata_corner=False)
    cog = work / "m_4709963_se_14_1_20200831.tif"
    with rasterio.open(src) as s:
        rasterio.shutil.copy(s, cog, driver="COG", compress="DEFLATE", blocksize=512)
    svc = BlobServiceClient.from_connection_string(azurite.connection_string)
    svc.create_container("rasters")
    with open(cog, "rb") as f:
        svc.get_blob_client("rasters", f"naip/{cog.name}").upload_blob(f)
    return azurite, cog, f"az://rasters/naip/{cog.name}"


def test_window_of_a_blob_cog_reads_a_fraction_of_it(blob_cog, monkeypatch):
    import rasterio
    from rasterio.windows import Window
    from aerial_nb.storage import open_blob_raster
    az, local, url = blob_cog
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", az.connection_string)
    win = Window(1000, 1000, 256, 256)
    def read():
        with open_blob_raster(url) as src: return src.read(window=win), src.crs, src.shape
    (remote, crs, shape), seen = count_ranged_reads(read)
    with rasterio.open(local) as src:
        assert np.array_equal(remote, src.read(window=win)) and crs == src.crs and shape == src.shape
    size = local.stat().st_size
    print(f"\n/vsiaz/ window {win.width}x{win.height} px of a {shape[1]}x{shape[0]} px COG: {seen.bytes()} bytes in "
          f"{len(seen.ranges)} ranged GETs of a {size} byte blob ({100 * seen.bytes() / size:.1f} %)")
    assert seen.ranges, "GDAL logged no ranged download: the read did not go through /vsiaz/"
    assert seen.bytes() < size / 4, "a 256 px window of a tiled COG needs a few blocks, not the whole file"


def test_blob_raster_errors_name_the_fix(blob_cog, monkeypatch):
    from aerial_nb.storage import open_blob_raster, vsiaz_path
    az, _, url = blob_cog
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_SAS_TOKEN", raising=False)
    with pytest.raises(ValueError, match="AZURE_STORAGE_CONNECTION_STRING"):
        with open_blob_raster(url): pass
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", az.connection_string)
    with pytest.raises(FileNotFoundError, match="az://rasters/naip/nope.tif"):
        with open_blob_raster("az://rasters/naip/nope.tif"): pass
    with pytest.raises(ValueError, match="names a container"):
        vsiaz_path("az://rasters")
