#!/usr/bin/env python
"""Draw squares to label by eye in the NAIP rasters and render the sheets a labeler looks at.

    python tools/label_sheets.py draw-train --per-year 32 --out outputs/labels/train_candidates.csv
    python tools/label_sheets.py sheets outputs/labels/train_candidates.csv --out outputs/labels/sheets_train
    python tools/label_sheets.py draw-judge outputs/runs/<run>/predictions/predictions.parquet --out judging.csv
    python tools/label_sheets.py merge outputs/labels/train_candidates.csv typed.csv --out params/labels/naip_nd_train.csv
    python tools/label_sheets.py draw-second params/labels/naip_nd_judging.csv --out outputs/labels/second
    python tools/label_sheets.py merge-second outputs/labels/second/key.csv typed_a.csv typed_b.csv --out second.csv
    python tools/label_sheets.py overview 2012 params/labels/naip_nd_train*.csv --out outputs/labels/overview_2012.png
    python tools/label_sheets.py census-sheets 2012 params/labels/naip_nd_train*.csv --out outputs/labels/census
    python tools/label_sheets.py census-rows typed_census.csv params/labels/naip_nd_train*.csv --out census.csv

Nothing here computes a label: `draw-train` only decides where squares are (a seeded uniform draw inside the training
blocks of params/labels/naip_nd_blocks.yaml), `sheets` draws each square with its surroundings in true colour (R,G,B)
and false colour (NIR,R,G), `merge` copies typed labels (tile_id,label,confidence,note) into the squares' rows,
`overview` draws one year's whole raster with the checkerboard and the squares already labeled (what ground a round
can still teach), and `census-sheets` lays a fixed lattice of 160 m squares over every training block (the same in
every year, wherever the imagery) for a labeler to pick from by eye; `census-rows` turns the picks into labels rows.
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
from aerial_nb.label_page import VIEWS, context_chips, square_record, stretch_limits  # noqa: E402
from aerial_nb.labels import LABEL_COLUMNS, Blocks, box_shares, square_boxes  # noqa: E402
from aerial_nb.offline_map import class_colors  # noqa: E402

DATA = REPO / "data" / "naip_nd"
BLOCKS = REPO / "params" / "labels" / "naip_nd_blocks.yaml"
SEED = 20261204
SIDE_M = 160.0        # the labeled square: one map cell
BUFFER_M = 80.0       # training squares keep this far inside their block, so a 320 m context stays on training ground
MAP_CLASSES = {"cultivated", "developed", "grassland", "water"}   # the default map's classes (its legend's colours)
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


def _stretched(a: np.ndarray, bands, limits) -> Image.Image:
    "The bands `a` (read as `bands`, 1-based) under the viewing stretch `limits` (label_page.stretch_limits), as RGB."
    lo, hi = limits
    b = np.asarray(bands) - 1
    rgb = np.clip((a - lo[b, None, None]) / np.maximum(hi[b] - lo[b], 1)[:, None, None], 0, 1) * 255
    return Image.fromarray(np.moveaxis(rgb.astype(np.uint8), 0, -1))


def overview(year: int, labels: list[Path], out: Path, px_per_pixel: int = 2) -> Path:
    """One year's raster in true colour and false colour side by side, `px_per_pixel` screen pixels a NAIP pixel, with
    the checkerboard's blocks (T train, J judge, with column and row) and every square of `labels` (labels CSVs) of that
    year outlined in its class's map colour: to see, before drawing a round, which lakes and fields of the training
    blocks a year's squares already cover. The same viewing stretch as the sheets and `aerial-nb label`."""
    paths = [p for p in rasters() if year_of(p) == year]
    if not paths:
        sys.exit(f"No raster of {year} under {DATA}: the years there are {sorted({year_of(p) for p in rasters()})}.")
    squares = pd.concat([pd.read_csv(p) for p in labels]) if labels else pd.DataFrame(columns=LABEL_COLUMNS)
    squares = squares[squares.year == year]
    # Colours as on the default map's legend (offline_map.class_colors over its classes), whichever classes are here.
    colors = class_colors(MAP_CLASSES | set(squares.label.dropna()))
    blocks, k, f = Blocks.load(BLOCKS), px_per_pixel, _font(14)
    with rasterio.open(paths[0]) as src:
        limits, t = stretch_limits(src), src.transform
        a = src.read().astype(np.float32)
        ncols = int(np.ceil((src.bounds.right - blocks.origin_x) / blocks.size_m))
        nrows = int(np.ceil((blocks.origin_y - src.bounds.bottom) / blocks.size_m))

    def to_px(x: float, y: float) -> tuple[float, float]:
        col, row = ~t * (x, y)
        return col * k, row * k

    views = []
    for view, bands in VIEWS.items():
        if max(bands) > a.shape[0]: continue
        img = _stretched(a[np.asarray(bands) - 1], bands, limits)
        img = img.resize((img.width * k, img.height * k), Image.NEAREST)
        d = ImageDraw.Draw(img)
        for c in range(ncols + 1):
            x, _ = to_px(blocks.origin_x + c * blocks.size_m, 0); d.line([x, 0, x, img.height], fill="white", width=2)
        for r in range(nrows + 1):
            _, y = to_px(0, blocks.origin_y - r * blocks.size_m); d.line([0, y, img.width, y], fill="white", width=2)
        for r in range(nrows):
            for c in range(ncols):
                x, y = to_px(blocks.origin_x + c * blocks.size_m, blocks.origin_y - r * blocks.size_m)
                role = "T" if blocks.role_of_block(c, r) == "train" else "J"
                d.text((max(x, 0) + 6, max(y, 0) + 4), f"{role} ({c},{r})", fill="white", font=f)
        for q in squares.itertuples():
            h = q.footprint_m / 2
            (x0, y0), (x1, y1) = to_px(q.center_x - h, q.center_y + h), to_px(q.center_x + h, q.center_y - h)
            d.rectangle([x0, y0, x1, y1], outline=colors.get(q.label, "#ffffff"), width=2)
        views.append(img)
    key = "   ".join(f"{c}: {n}" for c, n in squares.label.value_counts().items())
    sheet = Image.new("RGB", (sum(v.width for v in views) + 12 * (len(views) - 1), views[0].height + 28), "white")
    d, x = ImageDraw.Draw(sheet), 0
    for v in views: sheet.paste(v, (x, 28)); x += v.width + 12
    d.text((4, 6), f"{year}: {len(squares)} labeled squares ({key}); outline colours as the map's "
                   + ", ".join(f"{c} {h}" for c, h in colors.items()), fill="black", font=f)
    out.parent.mkdir(parents=True, exist_ok=True); sheet.save(out)
    return out


LATTICE = 7   # census squares a block side: SIDE_M apart, BUFFER_M in from its edges (7 x 160 m + 2 x 80 m = 1,280 m)


def census_lattice(year: int, labeled: pd.DataFrame) -> pd.DataFrame:
    """The census squares of `year`: in every training block a LATTICE x LATTICE lattice of SIDE_M squares, BUFFER_M in
    from the block's edges (so a square's 320 m context stays on training ground), named `<col><row>-<letter><number>`
    (block column and row, lattice column A.. and row 1..). Each square says whether its pixels are all valid and how
    much of it the squares of `labeled` of that year already cover (`covered`, the largest share one of them covers),
    so that a census can skip what is labeled. Where the squares lie decides nothing about what they show."""
    blocks, rows = Blocks.load(BLOCKS), []
    path = next(p for p in rasters() if year_of(p) == year)
    mine = labeled[labeled.year == year]
    with rasterio.open(path) as src:
        valid = (src.dataset_mask() > 0) & (src.read().max(axis=0) > 0)
        px = int(round(SIDE_M / abs(src.transform.a)))
        ncols = int(np.ceil((src.bounds.right - blocks.origin_x) / blocks.size_m))
        nrows = int(np.ceil((blocks.origin_y - src.bounds.bottom) / blocks.size_m))
        for bc in range(ncols):
            for br in range(nrows):
                if blocks.role_of_block(bc, br) != "train": continue
                for i in range(LATTICE):
                    for j in range(LATTICE):
                        x = blocks.origin_x + bc * blocks.size_m + BUFFER_M + (i + 0.5) * SIDE_M
                        y = blocks.origin_y - br * blocks.size_m - BUFFER_M - (j + 0.5) * SIDE_M
                        c, r = (int(round(v - px / 2)) for v in ~src.transform * (x, y))
                        inside = 0 <= r and 0 <= c and r + px <= src.height and c + px <= src.width
                        ok = inside and bool(valid[r:r + px, c:c + px].all())
                        share = (box_shares(square_boxes(x, y, SIDE_M / 2),
                                            square_boxes(mine.center_x, mine.center_y, mine.footprint_m / 2)).max()
                                 if len(mine) else 0.0)
                        rows.append(dict(census_id=f"{bc}{br}-{'ABCDEFG'[i]}{j + 1}", block=(bc, br), x=x, y=y,
                                         row=r, col=c, px=px, valid=ok, covered=float(share), source=path.name))
    return pd.DataFrame(rows)


def census_sheets(year: int, labeled: pd.DataFrame, out: Path, max_covered: float = 0.5, k: int = 3) -> list[Path]:
    """One sheet a training block of `year`: the block in true | false colour, `k` screen pixels a
    NAIP pixel, the census lattice drawn and named; squares off the raster are not drawn, and squares that a labeled
    square of that year covers by more than `max_covered` are crossed out (nothing new to teach there)."""
    lat, written, blocks = census_lattice(year, labeled), [], Blocks.load(BLOCKS)
    out.mkdir(parents=True, exist_ok=True)
    f = _font(13)
    with rasterio.open(DATA / lat.source.iloc[0]) as src:
        limits, t = stretch_limits(src), src.transform
        for block, g in lat.groupby("block", sort=True):
            bc, br = block
            x0, y0 = blocks.origin_x + bc * blocks.size_m, blocks.origin_y - br * blocks.size_m
            views = {}
            for view, bands in VIEWS.items():
                if max(bands) > src.count: continue
                c0, r0 = (int(round(v)) for v in ~t * (x0, y0))
                side = int(round(blocks.size_m / abs(t.a)))
                win = Window(c0, r0, side, side)
                a = src.read(list(bands), window=win, boundless=True, fill_value=0).astype(np.float32)
                img = _stretched(a, bands, limits).resize((side * k, side * k), Image.NEAREST)
                d = ImageDraw.Draw(img)
                for q in g.itertuples():
                    if not q.valid: continue
                    L, T = (q.col - c0) * k, (q.row - r0) * k
                    R, B = L + q.px * k, T + q.px * k
                    if q.covered > max_covered:
                        d.rectangle([L, T, R, B], outline=(160, 160, 160), width=1)
                        d.line([L, T, R, B], fill=(160, 160, 160)); d.line([L, B, R, T], fill=(160, 160, 160))
                    else:
                        d.rectangle([L, T, R, B], outline=(255, 255, 0), width=1)
                        d.text((L + 4, T + 3), q.census_id.split("-")[1], fill=(255, 255, 0), font=f)
                views[view] = img
            W = sum(v.width for v in views.values()) + 12
            sheet = Image.new("RGB", (W, next(iter(views.values())).height + 26), "white")
            x = 0
            for v in views.values(): sheet.paste(v, (x, 26)); x += v.width + 12
            ImageDraw.Draw(sheet).text((4, 5), f"{year}, training block {bc}{br}: true colour | false colour (NIR, R, G); "
                                       "crossed squares are labeled already", fill="black", font=f)
            p = out / f"census_{year}_block{bc}{br}.png"; sheet.save(p); written.append(p)
    return written


def census_rows(typed: Path, labeled: pd.DataFrame, prefix: str = "t8_", max_covered: float = 0.5) -> pd.DataFrame:
    """Labels rows for the census squares a labeler typed (`typed`: year,census_id,label,confidence,note), which must
    be squares the sheets offered (on the raster, covered at most `max_covered` by a square of `labeled`). A square's
    edges keep BUFFER_M inside its block to the pixel: where a raster's grid lies off the blocks' 5 m grid (1-3 m in
    2009 and 2016-2020) the lattice's outer squares come up to 2.5 m nearer the edge."""
    t = pd.read_csv(typed, dtype=str).fillna("")
    rows = []
    for year, g in t.groupby("year", sort=True):
        lat = census_lattice(int(year), labeled).set_index("census_id")
        open_ = lat.index[lat.valid & (lat.covered <= max_covered)]
        bad = sorted(set(g.census_id) - set(open_))
        if bad: sys.exit(f"{typed}: {year}: census ids not among that year's open squares (on the raster, at most "
                         f"{max_covered:.0%} labeled already; the sheets' numbered ones): {bad}")
        g = g.drop_duplicates("census_id", keep="last")
        with rasterio.open(DATA / lat.source.iloc[0]) as src:
            for q in g.itertuples():
                c = lat.loc[q.census_id]
                rec = square_record(src, c.source, f"{prefix}{year}_{q.census_id}", Window(int(c.col), int(c.row), int(c.px),
                                    int(c.px)), selection="census", note=q.note)
                rows.append({**rec, "label": q.label, "confidence": q.confidence})
    return pd.DataFrame(rows, columns=LABEL_COLUMNS)


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
    cs = sub.add_parser("census-sheets"); cs.add_argument("year", type=int)
    cs.add_argument("labeled", type=Path, nargs="*", help="labels CSVs whose squares the census skips")
    cs.add_argument("--out", type=Path, required=True)
    cr = sub.add_parser("census-rows"); cr.add_argument("typed", type=Path)
    cr.add_argument("labeled", type=Path, nargs="*"); cr.add_argument("--out", type=Path, required=True)
    cr.add_argument("--prefix", default="t8_")
    o = sub.add_parser("overview"); o.add_argument("year", type=int)
    o.add_argument("labels", type=Path, nargs="*", help="labels CSVs whose squares of that year are outlined")
    o.add_argument("--out", type=Path, required=True)
    o.add_argument("--px-per-pixel", type=int, default=2, help="screen pixels a NAIP pixel (larger to look closer)")
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
    elif args.cmd in ("census-sheets", "census-rows"):
        labeled = pd.concat([pd.read_csv(p) for p in args.labeled]) if args.labeled else pd.DataFrame(columns=LABEL_COLUMNS)
        if args.cmd == "census-sheets":
            for p in census_sheets(args.year, labeled, args.out): print(p)
        else:
            df = census_rows(args.typed, labeled, args.prefix); df.to_csv(args.out, index=False)
            print(f"{len(df)} census squares -> {args.out}")
    elif args.cmd == "overview":
        print(overview(args.year, args.labels, args.out, args.px_per_pixel))
    elif args.cmd == "sheets":
        for p in sheets(args.csv, args.out, args.per_sheet, args.cols, args.cell_px): print(p)
    else:
        print(f"{len(merge(args.csv, args.typed, args.out))} labeled squares -> {args.out}")


if __name__ == "__main__":
    main()
