"""The committed local labels (params/labels/) keep their promises: every row labeled with a map class and a
confidence, training squares in training blocks and judging squares in judging blocks, and no training square (of any
round) sharing ground with a judging square in any year, nor two squares of a round in one year, nor more than half
a square with an earlier round's in its year; against the rasters, every square is inside its raster
with data (`aerial_nb.labels.read_labels`). The labels themselves are by eye and cannot be tested."""
import numpy as np
import pandas as pd
import pytest

from aerial_nb.labels import LABEL_COLUMNS, Blocks, check_apart, covered_shares, overlapping, read_labels
from helpers import NAIP, ROOT, need

LABELS = ROOT / "params" / "labels"
TRAINING = sorted(LABELS.glob("naip_nd_train*.csv"))
JUDGING = LABELS / "naip_nd_judging.csv"
PREVIOUS_JUDGING = LABELS / "naip_nd_judging_2026-12-04.csv"   # the first sample (its labels of cells drawn again)
CLASSES = ["water", "cultivated", "grassland", "developed", "forest"]
BLOCKS = Blocks.load(LABELS / "naip_nd_blocks.yaml")


@pytest.mark.parametrize("path", [*TRAINING, JUDGING, PREVIOUS_JUDGING], ids=lambda p: p.name)
def test_every_row_is_labeled_in_the_schema(path):
    df = pd.read_csv(path)
    assert list(df.columns[:len(LABEL_COLUMNS)]) == LABEL_COLUMNS, df.columns
    assert df.label.isin(CLASSES).all(), df[~df.label.isin(CLASSES)].tile_id.tolist()
    assert df.confidence.isin(["clear", "mixed"]).all(), df[~df.confidence.isin(["clear", "mixed"])].tile_id.tolist()
    assert df.tile_id.is_unique


@pytest.mark.parametrize("path,role", [*[(p, "train") for p in TRAINING], (JUDGING, "judge"),
                                       (PREVIOUS_JUDGING, "judge")],
                         ids=lambda v: getattr(v, "name", v))
def test_squares_lie_in_their_blocks(path, role):
    df = pd.read_csv(path)
    roles = [BLOCKS.role(x, y, s) for x, y, s in zip(df.center_x, df.center_y, df.footprint_m)]
    assert all(r == role for r in roles), [t for t, r in zip(df.tile_id, roles) if r != role][:10]


def test_training_squares_share_no_ground_with_judging_squares_in_any_year():
    training = pd.concat([pd.read_csv(p) for p in TRAINING], ignore_index=True)
    check_apart(training, pd.concat([pd.read_csv(JUDGING), pd.read_csv(PREVIOUS_JUDGING)], ignore_index=True))


@pytest.mark.parametrize("index", range(len(TRAINING)), ids=lambda i: TRAINING[i].name)
def test_a_round_keeps_apart_within_a_year_and_off_most_of_earlier_squares(index):
    """No two squares of one round and year share ground; a later round's square shares at most half of its area
    with a square labeled in an earlier round of its year (`draw-train` / `aerial-nb propose --max-overlap 0.5`)."""
    df, earlier = pd.read_csv(TRAINING[index]), [pd.read_csv(p) for p in TRAINING[:index]]
    for year, g in df.groupby("year"):
        within = covered_shares(g, g)
        np.fill_diagonal(within, 0)
        assert within.max() == 0, (year, g.tile_id.iloc[within.max(axis=1).argmax()])
        before = pd.concat([e[e.year == year] for e in earlier]) if earlier else g.iloc[:0]
        if len(before):
            worst = covered_shares(g, before).max(axis=1)
            assert worst.max() <= 0.5, (year, g.tile_id.iloc[worst.argmax()], worst.max())


def test_the_round_check_can_fail():
    "A square labeled again in a later round (the same ground, the same year) covers all of it."
    df = pd.read_csv(TRAINING[0]).head(3)
    assert np.diag(covered_shares(df, df)).tolist() == [1.0, 1.0, 1.0]
    assert covered_shares(df.head(1), df.head(1).assign(center_x=df.center_x.iloc[0] + df.footprint_m.iloc[0] / 2))[0, 0] == 0.5


def test_judging_sample_records_its_design():
    j = pd.read_csv(JUDGING)
    assert (j.inclusion_prob > 0).all() and (j.inclusion_prob <= 1).all()
    n = j.groupby("stratum").size()
    assert ((j.groupby("stratum").inclusion_prob.first() * j.groupby("stratum").stratum_units.first()).round()
            == n).all()


@pytest.mark.parametrize("path", [*TRAINING, JUDGING], ids=lambda p: p.name)
def test_squares_are_inside_their_rasters_with_data(path):
    need(NAIP)
    assert len(read_labels(path, NAIP, CLASSES, log=lambda m: None)) == len(pd.read_csv(path))


def test_a_training_square_on_judging_ground_would_fail():
    "The check above can fail: a judging square moved into the training set is named."
    j = pd.read_csv(JUDGING)
    assert overlapping(j.head(1).assign(tile_id="moved"), j)
    with pytest.raises(ValueError, match="moved overlaps"):
        check_apart(j.head(1).assign(tile_id="moved"), j)


def test_second_opinions_are_of_judging_cells_as_labeled():
    "The blind second opinions (params/labels/README.md) name judging cells and quote their committed label."
    second = pd.read_csv(LABELS / "naip_nd_judging_second_opinion.csv")
    judging = pd.read_csv(JUDGING).set_index("tile_id")
    assert second.tile_id.is_unique and second.tile_id.isin(judging.index).all()
    assert (second.label.to_numpy() == judging.loc[second.tile_id].label.to_numpy()).all()
    assert second.second_label.isin(CLASSES).all() and second.second_confidence.isin(["clear", "mixed"]).all()
