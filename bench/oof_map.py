#!/usr/bin/env python
"""The map judged out of fold: would smoothing a cell's probabilities over its neighbours, or over its other years,
make a better map? (issue 27)

    python bench/oof_map.py folds outputs/bench/oof            # the default's labels, split into two folds of blocks
    aerial-nb run params/default.yaml --set "labels_csv=[outputs/bench/oof/A_…, …]" --set run_name=oof-trainA
    aerial-nb run params/default.yaml --set "labels_csv=[outputs/bench/oof/B_…, …]" --set run_name=oof-trainB
    python bench/oof_map.py eval outputs/runs/<…oof-trainA…> outputs/runs/<…oof-trainB…>

`folds` deals the training blocks into two folds as `finetune_local.py`'s block split does (blocks (0, 0), (1, 1),
(2, 2) against (0, 2), (2, 0), (3, 1)) and writes each labels CSV of `params/default.yaml`'s `labels_csv` as its A and
B halves. Two whole `make run`s then map every cell of every year, each trained on one fold alone (its own tuning,
its own classifier). `eval` judges every labeled square by the map of the run that never saw its block: the square's
probabilities are the mean of those of the cells it overlaps in its year, weighted by the share of it each covers
(squares less than 90% on mapped cells are left out). Each variant changes those cell probabilities first:
- spatial `w`: p + w × the mean of the cell's 8 neighbours in its year, normalised;
- temporal `w`: p + w × the mean of the same cell in the other years, normalised.
It prints accuracy, grassland recall / precision and water recall on the random squares (the unbiased estimate over
the training blocks) and on all squares. Nothing here sees the judging sample or the map's NIR/NDVI QA.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import yaml

from aerial_nb.labels import Blocks, box_shares, square_boxes

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = ROOT / "params/labels/naip_nd_blocks.yaml"
FOLD_A = {(0, 0), (1, 1), (2, 2)}
CLASSES = ["cultivated", "developed", "grassland", "water"]
PROBS = [f"prob_{c}" for c in CLASSES]
VARIANTS = [(0, 0), (0.25, 0), (0.5, 0), (1, 0), (2, 0), (0, 0.25), (0, 0.5), (0, 1), (0.5, 0.25)]


def label_files() -> list[Path]:
    return [ROOT / f for f in yaml.safe_load((ROOT / "params/default.yaml").read_text())["labels_csv"]]


def fold_of(labels: pd.DataFrame, blocks: Blocks) -> np.ndarray:
    return np.array(["A" if blocks.block_of(x, y) in FOLD_A else "B" for x, y in zip(labels.center_x, labels.center_y)])


def write_folds(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    blocks, files = Blocks.load(BLOCKS), {"A": [], "B": []}
    for f in label_files():
        d = pd.read_csv(f)
        fold = fold_of(d, blocks)
        for k in files:
            files[k].append(out / f"{k}_{f.name}")
            d[fold == k].to_csv(files[k][-1], index=False)
    for k, fs in files.items():
        print(f'aerial-nb run params/default.yaml --set "labels_csv=[{", ".join(map(str, fs))}]" '
              f"--set run_name=oof-train{k}")


def map_cells(run: Path) -> pd.DataFrame:
    "A run's map cells with their centres (the raster's CRS), year and a 10 m grid key."
    p = pd.read_csv(run / "predictions" / "predictions.csv")
    transforms = {s: rasterio.open(s).transform for s in p.source_path.unique()}
    t = [transforms[s] for s in p.source_path]
    p["x"] = [a.c + (c + w / 2) * a.a for a, c, w in zip(t, p.col_off, p.win_width)]
    p["y"] = [a.f + (r + h / 2) * a.e for a, r, h in zip(t, p.row_off, p.win_height)]
    p["year"] = p.acq_date.astype(str).str[:4].astype(int)
    for c in PROBS:   # a class no square of the fold taught (developed: the farmsteads lie in one fold's blocks)
        if c not in p: p[c] = 0.0
    p["gx"], p["gy"] = (p.x / 10).round().astype(int), (p.y / 10).round().astype(int)
    return p


def smoothed(p: pd.DataFrame, cell_m: float, spatial: float = 0.0, temporal: float = 0.0) -> np.ndarray:
    P = p[PROBS].to_numpy()
    out = P.copy()
    if spatial:
        at = {k: i for i, k in enumerate(zip(p.year, p.gx, p.gy))}
        step = int(round(cell_m / 10))   # a neighbour is a stride away, in the 10 m grid key
        near, n = np.zeros_like(P), np.zeros(len(p))
        for i, (y, gx, gy) in enumerate(zip(p.year, p.gx, p.gy)):
            for dx in (-step, 0, step):
                for dy in (-step, 0, step):
                    j = at.get((y, gx + dx, gy + dy)) if dx or dy else None
                    if j is not None: near[i] += P[j]; n[i] += 1
        has = n > 0
        out[has] = (out[has] + spatial * near[has] / n[has, None]) / (1 + spatial)
    if temporal:
        g = p.groupby(["gx", "gy"])
        total, count = g[PROBS].transform("sum").to_numpy(), g["year"].transform("count").to_numpy()
        out = (out + temporal * (total - P) / np.maximum(count - 1, 1)[:, None]) / (1 + temporal)
    return out


def square_probs(p: pd.DataFrame, P: np.ndarray, labels: pd.DataFrame, cell_m: float) -> np.ndarray:
    """Each labeled square's probabilities: the mean of those of the map cells it overlaps in its year, weighted by the
    share of the square each covers (`labels.box_shares`); NaN where under 90% of it lies on mapped cells."""
    res = np.full((len(labels), len(CLASSES)), np.nan)
    cells = square_boxes(p.x, p.y, cell_m / 2)
    squares = square_boxes(labels.center_x, labels.center_y, labels.footprint_m.to_numpy(float) / 2)
    years = p.year.to_numpy()
    for i, y in enumerate(labels.year):
        ix = np.flatnonzero(years == y)
        w = box_shares(squares[i], cells[ix])[0]
        if w.sum() >= 0.9: res[i] = (P[ix] * w[:, None]).sum(0) / w.sum()
    return res


def scores(d: pd.DataFrame) -> str:
    g, grass, water = d.pred == "grassland", d[d.label == "grassland"], d[d.label == "water"]
    prec = f"{(d[g].label == 'grassland').mean():.2f}" if g.any() else "–"
    return (f"{(d.pred == d.label).mean():.3f} (n {len(d)}; grassland {(grass.pred == 'grassland').mean():.2f} / "
            f"{prec}; water recall {(water.pred == 'water').mean():.2f})")


def evaluate(run_a: Path, run_b: Path) -> None:
    labels = pd.concat([pd.read_csv(f) for f in label_files()], ignore_index=True)
    labels["fold"] = fold_of(labels, Blocks.load(BLOCKS))
    maps = {"A": map_cells(run_a), "B": map_cells(run_b)}
    # A map cell is the stride square at its tile's centre (the runs' tile_stride_m)
    cell_m = {k: float(yaml.safe_load((r / "resolved_params.yaml").read_text())["tile_stride_m"])
              for k, r in (("A", run_a), ("B", run_b))}
    print("| spatial w | temporal w | random squares: accuracy (grassland recall / precision; water recall) | "
          "all squares |")
    print("|---|---|---|---|")
    for spatial, temporal in VARIANTS:
        probs = np.full((len(labels), len(CLASSES)), np.nan)
        for fold, judge in (("A", "B"), ("B", "A")):   # a fold's squares judged by the map trained on the other
            rows = (labels.fold == fold).to_numpy()
            m, c = maps[judge], cell_m[judge]
            probs[rows] = square_probs(m, smoothed(m, c, spatial, temporal), labels[rows], c)
        ok = ~np.isnan(probs[:, 0])
        d = labels[ok].assign(pred=np.array(CLASSES)[probs[ok].argmax(1)])
        print(f"| {spatial} | {temporal} | {scores(d[d.selection == 'random'])} | {scores(d)} |")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "folds": write_folds(Path(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "eval": evaluate(Path(sys.argv[2]), Path(sys.argv[3]))
    else: sys.exit(__doc__)
