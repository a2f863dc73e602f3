"""GIS outputs of a real `aerial-nb score` run, opened the way a GIS user would: rasterio, pyogrio, geopandas, GDAL's tools."""
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import aerial_nb

DATES = ("20180716", "20200831")


@pytest.fixture(scope="module")
def scored(tmp_path_factory, fixture_model, cut_at_model_scale):
    "The fixture model scores an overlapping tile set (360 m every 90 m) of two acquisitions through `aerial-nb score`."
    from aerial_nb.testing import make_fixture_geotiff
    root = tmp_path_factory.mktemp("gis")
    for i, d in enumerate(DATES):
        make_fixture_geotiff(root / "rasters" / f"m_4709963_se_14_1_{d}.tif", width=200, height=160, seed=3 + i)
    tiles = cut_at_model_scale(root / "rasters", root / "tiles", 90)
    model = str(fixture_model)
    out = root / "scores"
    r = aerial_nb("score", str(root / "tiles"), "--out", str(out), "--model", model, outputs=root / "outputs", timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    print(r.stdout)
    return out, tiles


def _tool(*cmd) -> str:
    if shutil.which(cmd[0]) is None: pytest.skip(f"{cmd[0]} is not installed (apt-get install gdal-bin, as .ci/run does)")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout + r.stderr


@pytest.mark.slow   # `scored`: a Spark fixture run and `aerial-nb score`
def test_cog_and_geopackage_agree_with_predictions(scored):
    import pyogrio
    import rasterio
    from rio_cogeo.cogeo import cog_validate
    out, tiles = scored
    pred = pd.read_parquet(out / "predictions.parquet")
    gis = out / "gis"
    labels = [c[len("prob_"):] for c in pred.columns if c.startswith("prob_")]
    gpkg = pyogrio.read_dataframe(gis / "tiles.gpkg", layer="tiles")
    assert gpkg.crs.to_epsg() == 26914 and len(gpkg) == len(pred)
    assert gpkg.set_index("filename").pred_label.to_dict() == pred.set_index("filename").pred_label.to_dict()
    for d in DATES:
        date = f"{d[:4]}-{d[4:6]}-{d[6:]}"
        cog = gis / f"classes_{date}.tif"
        valid, errors, warnings = cog_validate(str(cog))
        assert valid, (errors, warnings)
        assert "LAYOUT=COG" in _tool("gdalinfo", str(cog))
        these = gpkg[gpkg.acq_date == date]
        with rasterio.open(cog) as src:
            assert src.crs.to_epsg() == 26914 and src.count == 1 and src.dtypes[0] == "uint8" and src.nodata == 255
            assert json.loads(src.tags()["class_names"]) == labels
            band = src.read(1)
            # Three tiles: the first, the middle and the last; the pixel at each tile's centre holds its class.
            for _, t in these.iloc[[0, len(these) // 2, -1]].iterrows():
                c = t.geometry.centroid
                got = labels[band[src.index(c.x, c.y)]]
                assert got == pred.set_index("filename").pred_label[t.filename], t.filename
            assert (band == 255).any(), "the fixture's nodata corner holds no tiles, so its pixels must be nodata"
            assert src.colormap(1)[labels.index(these.pred_label.iloc[0])][3] == 255
        assert (gis / f"classes_{date}.qml").is_file() and (gis / f"probability_{date}.tif").is_file()
    assert (gis / "change_2018-07-16_to_2020-08-31.tif").is_file()


@pytest.mark.slow   # `scored`: a Spark fixture run and `aerial-nb score`
def test_gdal_tools_and_geopandas_read_the_layers(scored):
    import geopandas as gpd
    out, tiles = scored
    gis = out / "gis"
    info = _tool("ogrinfo", "-so", "-al", str(gis / "tiles.gpkg"))
    assert f"Feature Count: {len(tiles)}" in info and "pred_label" in info and "UTM zone 14N" in info
    assert "Warning" not in info, info   # Debian's GDAL 3.6 reads the GeoPackage version we write
    parquet = _tool("ogrinfo", "-so", "-al", str(gis / "tiles.parquet")) if "Parquet" in _tool("ogrinfo", "--formats") else ""
    assert not parquet or f"Feature Count: {len(tiles)}" in parquet
    g = gpd.read_parquet(gis / "tiles.parquet")
    assert g.crs.to_epsg() == 26914 and len(g) == len(tiles)
    assert {"pred_label", "acq_date", "model_name", "run_id", "pred_prob"} <= set(g.columns)
    # Tiles overlap (360 m every 90 m): each polygon is the 360 m footprint itself.
    assert np.allclose(g.geometry.area, 360 * 360)


@pytest.mark.slow   # `scored`: a Spark fixture run and `aerial-nb score`
def test_stac_collection_is_valid_offline(scored):
    import pystac
    from aerial_nb.gis import validate_stac
    out, _ = scored
    coll = out / "gis" / "stac" / "collection.json"
    checked = validate_stac(coll)
    assert len(checked) == 3 and all(checked.values())   # collection + one item per acquisition, each with schemas
    items = list(pystac.Collection.from_file(str(coll)).get_items())
    pred = pd.read_parquet(out / "predictions.parquet")
    for item in items:
        assert item.properties["aerial_nb:run_id"] == pred.run_id.iloc[0]
        assert item.properties["aerial_nb:model_name"] == pred.model_name.iloc[0]
        assert {"classes", "probability", "tiles_parquet", "tiles_gpkg"} <= set(item.assets)
        href = item.assets["classes"].href
        assert not href.startswith("/"), href   # relative: the folder can move or be uploaded as it is
        assert pystac.utils.make_absolute_href(href, item.get_self_href()).endswith(".tif")
        assert (coll.parent / item.id / href).resolve().is_file()
    summary = json.loads((out / "gis" / "gis.json").read_text())
    assert summary["n_tiles"] == len(pred) and summary["files"]["tiles.gpkg"]["bytes"] > 0


def _fake_scoring(folder, tiles: pd.DataFrame, labels=("field", "forest", "water")):
    "A scoring folder for `tiles` whose classes are drawn at random (the writers' input, not a model's output)."
    probs = np.random.default_rng(1).dirichlet(np.ones(len(labels)), len(tiles))
    pred = tiles.assign(pred_label=np.array(labels)[probs.argmax(1)] if len(tiles) else [], model_name="m", run_id="r",
                        **{f"prob_{l}": probs[:, i] for i, l in enumerate(labels)})
    folder.mkdir(parents=True, exist_ok=True)
    pred.to_parquet(folder / "predictions.parquet")
    return pred


def test_rasters_in_two_crss_give_one_output_per_crs(tmp_path):
    import pyogrio
    import rasterio
    from aerial_nb.gis import write_gis_outputs
    from aerial_nb.testing import make_fixture_geotiff
    from aerial_nb.tiles import tile_rasters
    make_fixture_geotiff(tmp_path / "r" / "a_20200831.tif", crs="EPSG:26914")
    make_fixture_geotiff(tmp_path / "r" / "b_20200831.tif", crs="EPSG:32614")
    tiles = tile_rasters(tmp_path / "r", tmp_path / "t", footprint_m=100, write_images=False)
    _fake_scoring(tmp_path / "s", tiles)
    # The run's maps (06_visualize writes <run>/maps/ beside <run>/predictions/) become STAC assets when they exist.
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "map.html").write_text("<html></html>"); (tmp_path / "maps" / "qa.json").write_text("{}")
    said = []
    s = write_gis_outputs(tmp_path / "s", log=said.append)
    assert any("2 CRSs" in m for m in said), said
    import pystac
    items = list(pystac.Collection.from_file(str(tmp_path / "s" / "gis" / "stac" / "collection.json")).get_items())
    assert len(items) == 2 and all({"map", "qa"} <= set(i.assets) for i in items)
    assert set(pyogrio.list_layers(tmp_path / "s" / "gis" / "tiles.gpkg")[:, 0]) == {"tiles_EPSG_26914", "tiles_EPSG_32614"}
    for epsg in (26914, 32614):
        with rasterio.open(tmp_path / "s" / "gis" / f"classes_2020-08-31_EPSG_{epsg}.tif") as src:
            assert src.crs.to_epsg() == epsg
    assert len(s["stac_validated"]) == 3


def test_empty_tile_set_writes_no_cog(tmp_path):
    from aerial_nb.gis import write_gis_outputs
    from aerial_nb.testing import make_fixture_geotiff
    from aerial_nb.tiles import tile_rasters
    make_fixture_geotiff(tmp_path / "r" / "a_20200831.tif")
    tiles = tile_rasters(tmp_path / "r", tmp_path / "t", footprint_m=100, write_images=False).iloc[:0]
    _fake_scoring(tmp_path / "s", tiles)
    said = []
    s = write_gis_outputs(tmp_path / "s", log=said.append)
    assert s["n_tiles"] == 0 and not list((tmp_path / "s" / "gis").glob("*.tif"))
    assert any("no COG written" in m for m in said), said


def test_missing_predictions_names_the_fix(tmp_path):
    from aerial_nb.gis import write_gis_outputs
    with pytest.raises(FileNotFoundError, match="aerial-nb score"):
        write_gis_outputs(tmp_path)


def test_tile_verb_takes_a_stac_catalog(tmp_path):
    "`aerial-nb tile catalog.json`: each Item's GeoTIFF asset is tiled; its datetime dates a raster whose name has none."
    import pystac
    from aerial_nb.testing import make_fixture_geotiff
    cat = pystac.Catalog("rasters", "two rasters, one named without its date")
    for name, day in (("m_4709963_se_14_1_20180716.tif", "2018-07-16"), ("scene_b.tif", "2021-06-01")):
        f = make_fixture_geotiff(tmp_path / "r" / name)
        item = pystac.Item(f.stem, None, None, pd.Timestamp(day, tz="UTC").to_pydatetime(), {})
        item.add_asset("image", pystac.Asset(str(f), media_type=pystac.MediaType.GEOTIFF, roles=["data"]))
        cat.add_item(item)
    cat.normalize_and_save(str(tmp_path / "stac"), pystac.CatalogType.SELF_CONTAINED)
    r = aerial_nb("tile", str(tmp_path / "stac" / "catalog.json"), "--out", str(tmp_path / "t"), "--footprint-m", "100",
                  "--no-images", outputs=tmp_path / "outputs", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    tiles = pd.read_csv(tmp_path / "t" / "tiles.csv", dtype=str)
    assert tiles.groupby("source").acq_date.unique().map(list).to_dict() == {
        "m_4709963_se_14_1_20180716.tif": ["2018-07-16"], "scene_b.tif": ["2021-06-01"]}
    bad = aerial_nb("tile", str(tmp_path / "nope.json"), "--out", str(tmp_path / "t2"), outputs=tmp_path / "outputs")
    assert bad.returncode != 0 and "no STAC catalog" in bad.stdout + bad.stderr


def test_tiles_without_raster_windows_are_skipped_with_a_reason(tmp_path):
    "A tile set of images alone (no windows) scores fine; its GIS step writes nothing and says why, without failing."
    from aerial_nb.gis import write_gis_outputs
    from aerial_nb.testing import make_fixture_geotiff
    from aerial_nb.tiles import tile_rasters
    make_fixture_geotiff(tmp_path / "r" / "a_20200831.tif")
    tiles = tile_rasters(tmp_path / "r", tmp_path / "t", footprint_m=100, write_images=False)
    _fake_scoring(tmp_path / "s", tiles.drop(columns=["row_off", "col_off", "win_width", "win_height"]))
    said = []
    s = write_gis_outputs(tmp_path / "s", log=said.append)
    assert "aerial-nb tile" in s["note"] and not list((tmp_path / "s" / "gis").glob("*.tif")), said
