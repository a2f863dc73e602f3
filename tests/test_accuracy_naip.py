"""The accuracy assessment's geometry on the real NAIP rasters: the judging sample drawn in the judging blocks of
params/labels/naip_nd_blocks.yaml is found again on the map, its strata cover exactly the map's judged cells, and the
185-square check set is reported as a simple random sample of its random squares in judging blocks."""
import numpy as np
import pandas as pd
import pytest

from helpers import NAIP, ROOT, need

pytestmark = pytest.mark.xdist_group("accuracy_naip")
BLOCKS = ROOT / "params" / "labels" / "naip_nd_blocks.yaml"
CHECK = ROOT / "params" / "checksets" / "naip_nd_check.csv"


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    "The default map's grid (640 m tiles every 160 m) over the ten rasters, with a made-up map: classes at random."
    need(NAIP)
    from aerial_nb.tiles import tile_rasters
    tiles = tile_rasters(NAIP, tmp_path_factory.mktemp("tiles"), footprint_m=640, stride_m=160, write_images=False)
    rng = np.random.default_rng(0)
    classes = ["cultivated", "grassland", "water"]
    return tiles.assign(pred_label=rng.choice(classes, len(tiles), p=[0.6, 0.3, 0.1]),
                        **{f"prob_{c}": 1 / 3 for c in classes})


def test_judging_sample_round_trip(scored, tmp_path):
    from aerial_nb.accuracy import accuracy_assessment, draw_reference_sample, judged, map_cells
    from aerial_nb.labels import Blocks
    blocks = Blocks.load(BLOCKS)
    cells = map_cells(scored, blocks.crs)
    assert cells.cell_m.iloc[0] == 160.0                       # the stride: a map cell
    n_judged = judged(cells, blocks).groupby(cells.year).sum()
    assert n_judged.min() > 150, n_judged.to_dict()             # about a third of the 494 cells of a year
    sample = draw_reference_sample(cells, None, 10, seed=0, blocks=blocks)
    # each year's strata hold exactly its judged cells (what the estimators take the population to be)
    assert sample.drop_duplicates("stratum").groupby("year").stratum_units.sum().to_dict() == n_judged.to_dict()
    # the test's "labels" are the made-up map's classes, every fourth one changed: this checks the machinery only
    lab = sample.merge(cells, on=["year", "center_x", "center_y"], how="left").pred_label.to_numpy()
    lab[::4] = "grassland"
    sample.assign(label=lab, confidence="clear").to_csv(tmp_path / "ref.csv", index=False)
    rep = accuracy_assessment(scored, tmp_path / "maps", blocks=blocks, reference_csv=tmp_path / "ref.csv",
                              check_csvs=[CHECK], log=lambda *a: None)
    assert [y["year"] for y in rep["years"]] == sorted(cells.year.unique())
    assert all(y["population"]["cells"] == n_judged[y["year"]] for y in rep["years"])
    assert len(rep["changes"]) == 45                            # water, every two of the ten years
    rows = pd.read_csv(tmp_path / "maps" / "accuracy.csv")
    assert set(rows.kind) == {"overall", "class", "change", "check_set"}


def test_check_set_is_a_simple_random_sample_of_its_judging_block_squares(scored):
    from aerial_nb.accuracy import check_set_srs, map_cells
    from aerial_nb.labels import Blocks
    blocks = Blocks.load(BLOCKS)
    srs = check_set_srs(CHECK, map_cells(scored, blocks.crs), blocks, ["cultivated", "grassland", "water"])
    # 640 m squares in 1,280 m blocks: most random squares cross a block edge
    assert srs["squares"] == 185 and srs["used"] == 23
    assert srs["excluded"] == {"targeted (placed by hand, not random)": 25, "random, in a training block": 22,
                               "random, across a block edge": 115}
    assert srs["overall"].se is not None
