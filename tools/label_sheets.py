#!/usr/bin/env python
"""Draw squares to label by eye in the NAIP rasters and render the sheets a labeler looks at.

    python tools/label_sheets.py draw-train --per-year 32 --out outputs/labels/train_candidates.csv
    python tools/label_sheets.py sheets outputs/labels/train_candidates.csv --out outputs/labels/sheets_train
    python tools/label_sheets.py draw-judge outputs/runs/<run>/predictions/predictions.parquet --out judging.csv
    python tools/label_sheets.py merge outputs/labels/train_candidates.csv typed.csv --out params/labels/naip_nd_train.csv
    python tools/label_sheets.py draw-second params/labels/naip_nd_judging.csv --out outputs/labels/second
    python tools/label_sheets.py merge-second outputs/labels/second/key.csv typed_a.csv typed_b.csv --out second.csv

Nothing here computes a label: `draw-train` only decides where squares are (a seeded uniform draw inside the training
blocks of params/labels/naip_nd_blocks.yaml), `sheets` draws each square with its surroundings in true colour (R,G,B)
and false colour (NIR,R,G), and `merge` copies typed labels (tile_id,label,confidence,note) into the squares' rows.
The viewing stretch (1-99 % per band and year) is a viewing aid only.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from PIL import Image, ImageDraw, ImageFont
from rasterio.windows import Window

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from aerial_nb.label_page import context_chips, square_record, stretch_limits  # noqa: E402
from aerial_nb.labels import LABEL_COLUMNS, Blocks, box_shares  # noqa: E402

DATA = REPO / "data" / "naip_nd"
BLOCKS = REPO / "params" / "labels" / "naip_nd_blocks.yaml"
SEED = 20261204
SIDE_M = 160.0        # the labeled square: one map cell
BUFFER_M = 80.0       # training squares keep this far inside their block, so a 320 m context stays on training ground
CELL_PX = 256         # a chip's side on a sheet; it shows label_page.CONTEXT_M (640 m) around the square


def rasters() -> list[Path]:
    paths = sorted(DATA.glob("*.tif"))
    if not paths: sys.exit(f"No NAIP rasters under {DATA}: run `make data` first.")
    return paths


def year_of(path: Path) -> int: return int(path.stem.rsplit("_", 1)[-1][:4])


def draw_train(per_year: int, role: str = "train", prefix: str = "tr", seed: int = SEED,
               avoid: pd.DataFrame | None = None, max_overlap: float = 0.0) -> pd.DataFrame:
    """`per_year` squares per raster, uniform over the blocks of `role`, each wholly inside one (BUFFER_M in), not
    overlapping each other within a year, and covering at most `max_overlap` of their area with a square of `avoid`
    (labels already given, any CSV of this schema) of the same year (0: none). The squares only say where a label
    goes; a 320 m context overlaps its neighbours' anyway, so a later round may share some ground with an earlier one
    once the blocks hold no more room for squares apart (rounds 1-5 left 18-30 a year)."""
    blocks, rows = Blocks.load(BLOCKS), []
    for path in rasters():
        year = year_of(path)
        rng = np.random.default_rng([seed, year, 0 if role == "train" else 1])
        with rasterio.open(path) as src:
            px = int(round(SIDE_M / abs(src.transform.a)))
            valid = (src.dataset_mask() > 0) & (src.read().max(axis=0) > 0)
            taken = [] if avoid is None else [tuple(int(round(v)) for v in ~src.transform * (x, y))[::-1]
                                              for x, y in avoid.loc[avoid.year == year, ["center_x", "center_y"]].values]
            taken = [(r - px // 2, c - px // 2) for r, c in taken]   # their top-left pixels, as `picked`'s
            taken_boxes = np.array([(c, r, c + px, r + px) for r, c in taken], float).reshape(-1, 4)
            picked: list[tuple[int, int]] = []
            for _ in range(200_000):
                if len(picked) == per_year: break
                r, c = int(rng.integers(0, src.height - px + 1)), int(rng.integers(0, src.width - px + 1))
                x, y = src.transform * (c + px / 2, r + px / 2)
                if blocks.role(x, y, SIDE_M, BUFFER_M if role == "train" else 0.0) != role: continue
                if not valid[r:r + px, c:c + px].all(): continue
                if any(max(abs(r - r2), abs(c - c2)) < px for r2, c2 in picked): continue
                if len(taken) and box_shares([c, r, c + px, r + px], taken_boxes).max() > max_overlap: continue
                picked.append((r, c))
            rows += [square_record(src, path.name, f"{prefix}{year}_{i:03d}", Window(c, r, px, px), selection="random")
                     for i, (r, c) in enumerate(picked)]
    return pd.DataFrame(rows, columns=LABEL_COLUMNS)


def draw_judge(predictions: Path, per_class: dict[str, int], seed: int = SEED, prefix: str = "ju") -> pd.DataFrame:
    """A stratified random sample of map cells (SIDE_M squares at the centres of a map's tiles) wholly inside judging
    blocks: strata are (year, mapped class); `per_class` units drawn at random in each (all when fewer), with the
    stratum's size and each unit's inclusion probability, in a random order so that a sheet does not give the map's
    class away (labelers never see it)."""
    blocks, rows = Blocks.load(BLOCKS), []
    p = pd.read_parquet(predictions)
    for source, g in p.groupby("source", sort=True):
        path = DATA / source
        with rasterio.open(path) as src:
            px = int(round(SIDE_M / abs(src.transform.a)))
            cells = []
            for r in g.itertuples():
                cx, cy = src.transform * (r.col_off + r.win_width / 2, r.row_off + r.win_height / 2)
                if blocks.role(cx, cy, SIDE_M) != "judge": continue
                c, rr = ~src.transform * (cx, cy)
                cells.append((r.pred_label, int(round(rr - px / 2)), int(round(c - px / 2))))
            cells = pd.DataFrame(cells, columns=["stratum", "row", "col"])
            rng = np.random.default_rng([seed, year_of(path), 7])
            picked = []
            for stratum, s_cells in cells.groupby("stratum", sort=True):
                n = min(per_class.get(stratum, per_class.get("*", 0)), len(s_cells))
                for i in rng.choice(len(s_cells), size=n, replace=False):
                    picked.append((stratum, len(s_cells), n, s_cells.iloc[i].row, s_cells.iloc[i].col))
            order = rng.permutation(len(picked))
            for k, j in enumerate(order):
                stratum, N, n, r, c = picked[j]
                rec = square_record(src, path.name, f"{prefix}{year_of(path)}_{k:03d}", Window(int(c), int(r), px, px),
                                    selection="stratified")
                rows.append({**rec, "stratum": f"{year_of(path)}:{stratum}", "stratum_units": N,
                             "inclusion_prob": round(n / N, 6)})
    return pd.DataFrame(rows)


def _font(size: int):
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try: return ImageFont.truetype(name, size)
        except OSError: pass
    return ImageFont.load_default()


def sheets(csv: Path, out: Path, per_sheet: int = 12, cols: int = 3, cell_px: int = CELL_PX) -> list[Path]:
    "Sheets of `per_sheet` squares, `cols` a row, each true | false colour at `cell_px` (larger to look closer)."
    df = pd.read_csv(csv)
    out.mkdir(parents=True, exist_ok=True)
    cells: list[tuple[str, Image.Image, Image.Image]] = []
    for source, rows in df.groupby("source", sort=True):
        with rasterio.open(DATA / source) as src:
            limits = stretch_limits(src)   # the page's (aerial-nb label) chips: one way to look at a square
            for r in rows.itertuples():
                views = context_chips(src, limits, r.center_x, r.center_y, r.footprint_m, cell_px=cell_px)
                cells.append((r.tile_id, views["true"], views["false"]))
    order = {t: i for i, t in enumerate(df.tile_id)}
    cells.sort(key=lambda c: order[c[0]])
    written, f = [], _font(18)
    for k in range(0, len(cells), per_sheet):
        part = cells[k:k + per_sheet]
        rows_n = -(-len(part) // cols)
        W, H = 2 * cell_px + 4, cell_px + 26
        sheet = Image.new("RGB", (cols * (W + 12), rows_n * (H + 10)), "white")
        d = ImageDraw.Draw(sheet)
        for i, (tid, t, fc) in enumerate(part):
            x, y = (i % cols) * (W + 12), (i // cols) * (H + 10)
            d.text((x + 4, y + 2), tid, fill="black", font=f)
            sheet.paste(t, (x, y + 24)); sheet.paste(fc, (x + cell_px + 4, y + 24))
        p = out / f"sheet_{k // per_sheet:02d}.png"
        sheet.save(p); written.append(p)
    return written


def merge(csv: Path, typed: Path, out: Path) -> pd.DataFrame:
    df = pd.read_csv(csv, dtype={"note": str, "acq_date": str})
    t = pd.read_csv(typed, dtype=str).fillna("")
    unknown = set(t.tile_id) - set(df.tile_id)
    if unknown: sys.exit(f"{typed}: ids not in {csv}: {sorted(unknown)[:10]}")
    t = t.drop_duplicates("tile_id", keep="last").set_index("tile_id")
    for col in ("label", "confidence", "note"):
        df[col] = df.tile_id.map(t[col]).where(df.tile_id.isin(t.index), df[col])
    df = df[df.label.fillna("").astype(str).str.len() > 0]
    df.to_csv(out, index=False)
    return df


def draw_second(labeled: Path, per_label: dict[str, int], seed: int, out: Path) -> pd.DataFrame:
    """Labeled squares drawn at random within their labels (`per_label`), shuffled and given new ids (`so000`, ...) for
    a blind second opinion: `out/blind.csv` (their rows with label, confidence and note emptied, ready for `sheets`)
    and `out/key.csv` (new id -> the square's id, label and confidence; never shown to a labeler)."""
    df = pd.read_csv(labeled, dtype={"note": str, "acq_date": str})
    rng = np.random.default_rng(seed)
    drawn = pd.concat([df[df.label == k].iloc[rng.choice((df.label == k).sum(), n, replace=False)]
                       for k, n in per_label.items()]).sample(frac=1, random_state=5).reset_index(drop=True)
    drawn = drawn.assign(orig_id=drawn.tile_id, tile_id=[f"so{i:03d}" for i in range(len(drawn))])
    out.mkdir(parents=True, exist_ok=True)
    drawn[["tile_id", "orig_id", "label", "confidence", "year"]].to_csv(out / "key.csv", index=False)
    blind = drawn[LABEL_COLUMNS].assign(label="", confidence="", note="")
    blind.to_csv(out / "blind.csv", index=False)
    return blind


def merge_second(key: Path, typed: list[Path], out: Path) -> pd.DataFrame:
    "The second labels (`typed` CSVs: tile_id,label,confidence,note, one per labeler) beside the first, by square id."
    k = pd.read_csv(key)
    t = pd.concat([pd.read_csv(p, dtype=str).fillna("").assign(second_labeler=f"session {chr(65 + i)}")
                   for i, p in enumerate(typed)])
    m = k.merge(t, on="tile_id", how="inner", suffixes=("", "_second"))
    if len(m) != len(k): sys.exit(f"{key}: {len(k) - len(m)} squares have no second label in {typed}")
    df = pd.DataFrame({"tile_id": m.orig_id, "year": m.year, "label": m.label, "confidence": m.confidence,
                       "second_label": m.label_second, "second_confidence": m.confidence_second,
                       "second_note": m.note, "second_labeler": m.second_labeler}).sort_values(["year", "tile_id"])
    df.to_csv(out, index=False)
    return df


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("draw-train"); a.add_argument("--per-year", type=int, default=32); a.add_argument("--out", type=Path)
    a.add_argument("--role", default="train"); a.add_argument("--prefix", default="tr")
    a.add_argument("--seed", type=int, default=SEED, help="another seed draws other squares")
    a.add_argument("--avoid", type=Path, nargs="*", default=[], help="labels CSVs whose squares the draw keeps off")
    a.add_argument("--max-overlap", type=float, default=0.0,
                   help="the largest share of a new square's area an --avoid square of its year may cover (default 0)")
    j = sub.add_parser("draw-judge"); j.add_argument("predictions", type=Path); j.add_argument("--out", type=Path)
    j.add_argument("--per-class", default="water=8,cultivated=8,grassland=8,developed=4,forest=4")
    j.add_argument("--prefix", default="ju", help="tile ids' prefix (a new sample must not reuse old ids)")
    s = sub.add_parser("sheets"); s.add_argument("csv", type=Path); s.add_argument("--out", type=Path, required=True)
    s.add_argument("--per-sheet", type=int, default=12)
    s.add_argument("--cell-px", type=int, default=CELL_PX, help="side of each chip in pixels (larger to look closer)")
    s.add_argument("--cols", type=int, default=3)
    m = sub.add_parser("merge"); m.add_argument("csv", type=Path); m.add_argument("typed", type=Path)
    m.add_argument("--out", type=Path, required=True)
    d = sub.add_parser("draw-second"); d.add_argument("labeled", type=Path)
    d.add_argument("--out", type=Path, required=True)
    d.add_argument("--per-label", default="grassland=50,cultivated=46,water=24")
    d.add_argument("--seed", type=int, default=20261205)
    ms = sub.add_parser("merge-second"); ms.add_argument("key", type=Path)
    ms.add_argument("typed", type=Path, nargs="+")
    ms.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "draw-train":
        avoid = pd.concat([pd.read_csv(p) for p in args.avoid]) if args.avoid else None
        df = draw_train(args.per_year, args.role, args.prefix, args.seed, avoid, args.max_overlap)
        args.out.parent.mkdir(parents=True, exist_ok=True); df.to_csv(args.out, index=False)
        print(f"{len(df)} squares -> {args.out}")
    elif args.cmd == "draw-judge":
        per = {k: int(v) for k, v in (kv.split("=") for kv in args.per_class.split(","))}
        df = draw_judge(args.predictions, per, prefix=args.prefix)
        args.out.parent.mkdir(parents=True, exist_ok=True); df.to_csv(args.out, index=False)
        print(f"{len(df)} judging squares -> {args.out}"); print(df.groupby("stratum").size().to_string())
    elif args.cmd == "draw-second":
        per = {k: int(v) for k, v in (kv.split("=") for kv in args.per_label.split(","))}
        print(f"{len(draw_second(args.labeled, per, args.seed, args.out))} squares -> {args.out}/blind.csv, key.csv")
    elif args.cmd == "merge-second":
        print(f"{len(merge_second(args.key, args.typed, args.out))} second opinions -> {args.out}")
    elif args.cmd == "sheets":
        for p in sheets(args.csv, args.out, args.per_sheet, args.cols, args.cell_px): print(p)
    else:
        print(f"{len(merge(args.csv, args.typed, args.out))} labeled squares -> {args.out}")


if __name__ == "__main__":
    main()
