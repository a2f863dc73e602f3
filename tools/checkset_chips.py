#!/usr/bin/env python
"""Draw, render and record the hand-labeled NAIP check set (issue 11, point 6).

The check set is for EVALUATION ONLY of the land-use map: 640 m x 640 m squares (EuroSAT's footprint) cut
from the ten North Dakota NAIP rasters, labeled BY EYE into the map classes. Nothing here computes a label:
this script only decides where the squares are and draws them so that a person can look at them.

    python tools/checkset_chips.py                       # draw positions, render chips, montages, overviews
    python tools/checkset_chips.py --labels FILE.csv     # ... and merge the by-eye labels into the check CSV
    python tools/checkset_chips.py --timeline nd2009_r11 # ... and show that square in all ten years
    python tools/checkset_chips.py --check               # only check the committed CSV against the draw

Outputs: chips/<tile_id>_{true,false}.png (256 px), montage_<year>_<k>.png (4 x 4 true|false pairs, ids only:
what the labeler looked at), labeled_<year>_<k>.png (the same with the labels, for review), overview_<year>.png
(whole raster with the squares outlined, for context) and grid_<year>.png (pixel grid used to place targeted squares).

Positions are deterministic: a seeded random draw per year (`selection=random`) plus a short fixed list of
targeted squares (`selection=targeted`) added so that rare classes have examples. Images go to
outputs/checkset/ (git-ignored); the committed product is params/checksets/naip_nd_check.csv.
When that CSV exists, a plain run also checks that its geometry still matches the draw, so a reviewer
re-renders exactly the squares that were labeled.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image, ImageDraw, ImageFont
from rasterio.warp import transform_bounds
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "naip_nd"
OUT = REPO / "outputs" / "checkset"
CHECK_CSV = REPO / "params" / "checksets" / "naip_nd_check.csv"

SEED = 20261130          # one seed; each year's draw uses the stream (SEED, year)
N_RANDOM_PER_YEAR = 16
FOOTPRINT_M = 640.0      # fixed by the lead: EuroSAT's 64 px x 10 m
MIN_CENTER_GAP_PX = 64   # squares of one year may overlap by at most half a side, so the draw is not redundant
CHIP_PX = 256            # rendered chip size (128 px of 5 m NAIP upscaled 2x)
MONTAGE_CHIP_PX = 192    # chip size inside a montage, so a 4 x 4 montage of true|false pairs stays ~1.6k px wide
CLASSES = ("water", "cultivated", "grassland", "developed", "forest")

# Targeted squares, chosen after looking at the year overviews (outputs/checkset/overview_<year>.png):
# (year, row_off, col_off, why). Offsets are pixels of that year's raster. Ids are nd<year>_t<k>, k counting this
# year's entries in list order: only ever append, or labels typed against the old ids would move to other squares.
TARGETED = [
    (2009, 0, 740, "targeted: NE pasture block"),
    (2012, 0, 740, "targeted: NE pasture block"),
    (2015, 0, 740, "targeted: NE pasture block"),
    (2017, 0, 740, "targeted: NE pasture block"),
    (2020, 0, 740, "targeted: NE pasture block"),
    (2010, 0, 740, "targeted: NE pasture block"),
    (2014, 0, 740, "targeted: NE pasture block"),
    (2016, 0, 740, "targeted: NE pasture block"),
    (2018, 0, 740, "targeted: NE pasture block"),
    (2019, 0, 740, "targeted: NE pasture block"),
    (2015, 595, 640, "targeted: SE grass block south of the road"),
    (2020, 595, 640, "targeted: SE grass block south of the road"),
    (2010, 0, 100, "targeted: NW mottled block"),
    (2012, 0, 0, "targeted: NW mottled block"),
    (2009, 596, 0, "targeted: SW farmstead"),
    (2015, 595, 0, "targeted: SW farmstead"),
    (2020, 595, 0, "targeted: SW farmstead"),
    (2015, 0, 440, "targeted: N farmstead"),
    (2018, 0, 440, "targeted: N farmstead"),
    # second round, added after the timelines (--timeline) showed where grass persists; appended so that the
    # ids above (numbered per year in list order) keep their meaning
    (2009, 595, 806, "targeted: SE pasture south of the road"),
    (2012, 595, 806, "targeted: SE pasture south of the road"),
    (2016, 595, 806, "targeted: SE pasture south of the road"),
    (2019, 595, 806, "targeted: SE pasture south of the road"),
    (2009, 200, 0, "targeted: W lake, turbid light-green water"),
    (2016, 200, 0, "targeted: W lake, turbid light-green water"),
]

FIELDS = ["tile_id", "year", "acq_date", "source", "crs", "center_x", "center_y", "footprint_m",
          "llcrnrlat", "llcrnrlon", "urcrnrlat", "urcrnrlon", "label", "confidence", "selection", "note"]


def rasters() -> list[Path]:
    paths = sorted(DATA.glob("*.tif"))
    if not paths:
        sys.exit(f"No NAIP rasters under {DATA}: run `make data` (links data -> ../shared/data).")
    return paths


def year_of(path: Path) -> int:
    return int(path.stem.rsplit("_", 1)[-1][:4])


def window_px(src) -> int:
    px = FOOTPRINT_M / abs(src.transform.a)
    if abs(px - round(px)) > 1e-6 or abs(src.transform.a) != abs(src.transform.e):
        raise ValueError(f"{src.name}: pixel size {src.res} does not divide {FOOTPRINT_M} m into whole square pixels.")
    return int(round(px))


def valid_mask(src) -> np.ndarray:
    """True where a pixel has data (dataset mask and not all-zero in every band)."""
    return (src.dataset_mask() > 0) & (src.read().max(axis=0) > 0)


def draw_random(src, year: int) -> list[tuple[int, int]]:
    """N_RANDOM_PER_YEAR window offsets (row, col), uniform over the raster, fully valid, spaced apart."""
    px, valid = window_px(src), valid_mask(src)
    rng = np.random.default_rng([SEED, year])
    picked: list[tuple[int, int]] = []
    for _ in range(100_000):
        if len(picked) == N_RANDOM_PER_YEAR: break
        r, c = int(rng.integers(0, src.height - px + 1)), int(rng.integers(0, src.width - px + 1))
        if not valid[r:r + px, c:c + px].all(): continue
        if any(max(abs(r - r2), abs(c - c2)) < MIN_CENTER_GAP_PX for r2, c2 in picked): continue
        picked.append((r, c))
    if len(picked) < N_RANDOM_PER_YEAR:
        raise RuntimeError(f"{src.name}: only {len(picked)} valid, spaced squares found.")
    return picked


def stretch(src) -> tuple[np.ndarray, np.ndarray]:
    """Per-year 1-99 % stretch per band (viewing aid only, so years of different radiometry look alike)."""
    a = src.read().reshape(src.count, -1).astype(np.float32)
    return np.percentile(a, 1, axis=1), np.percentile(a, 99, axis=1)


def to_rgb(arr: np.ndarray, lo, hi, bands) -> np.ndarray:
    out = [(arr[b - 1].astype(np.float32) - lo[b - 1]) / max(hi[b - 1] - lo[b - 1], 1) for b in bands]
    return (np.clip(np.stack(out, -1), 0, 1) * 255).astype(np.uint8)


def tile_record(src, path: Path, tile_id: str, r: int, c: int, selection: str, why: str = "") -> dict:
    px = window_px(src)
    win = Window(c, r, px, px)
    left, bottom, right, top = window_bounds(win, src.transform)
    west, south, east, north = transform_bounds(src.crs, "EPSG:4326", left, bottom, right, top)
    return dict(tile_id=tile_id, year=year_of(path), acq_date=path.stem.rsplit("_", 1)[-1], source=path.name,
                crs=src.crs.to_string(), center_x=round((left + right) / 2, 1), center_y=round((bottom + top) / 2, 1),
                footprint_m=int(FOOTPRINT_M), llcrnrlat=round(south, 7), llcrnrlon=round(west, 7),
                urcrnrlat=round(north, 7), urcrnrlon=round(east, 7), label="", confidence="", selection=selection,
                note="", _row=r, _col=c, _why=why)


def font(size: int):
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try: return ImageFont.truetype(name, size)
        except OSError: pass
    return ImageFont.load_default()


def draw(path: Path, src) -> list[dict]:
    """This raster's squares: the seeded random draw, then its targeted squares."""
    year, px, valid = year_of(path), window_px(src), valid_mask(src)
    recs = [tile_record(src, path, f"nd{year}_r{i:02d}", r, c, "random")
            for i, (r, c) in enumerate(draw_random(src, year))]
    for j, (_, r, c, why) in enumerate(t for t in TARGETED if t[0] == year):
        if not (0 <= r <= src.height - px and 0 <= c <= src.width - px and valid[r:r + px, c:c + px].all()):
            raise ValueError(f"targeted square {year} r{r} c{c} is not entirely inside valid data of {path.name}")
        recs.append(tile_record(src, path, f"nd{year}_t{j:02d}", r, c, "targeted", why))
    return recs


def positions(paths: list[Path]) -> list[dict]:
    records = []
    for path in paths:
        with rasterio.open(path) as src: records += draw(path, src)
    return records


def render(paths: list[Path]) -> list[dict]:
    """Draw every year's squares and write their chips and the year overviews."""
    (OUT / "chips").mkdir(parents=True, exist_ok=True)
    records = []
    for path in paths:
        with rasterio.open(path) as src:
            recs, px, arr = draw(path, src), window_px(src), src.read()
            lo, hi = stretch(src)
            true_full, false_full = to_rgb(arr, lo, hi, (1, 2, 3)), to_rgb(arr, lo, hi, (4, 1, 2))
            for rec in recs:
                r, c = rec["_row"], rec["_col"]
                for kind, full in (("true", true_full), ("false", false_full)):
                    chip = Image.fromarray(full[r:r + px, c:c + px]).resize((CHIP_PX, CHIP_PX), Image.LANCZOS)
                    chip.save(OUT / "chips" / f"{rec['tile_id']}_{kind}.png")
            overview(year_of(path), true_full, false_full, recs, px)
        records += recs
    return records


def overview(year, true_full, false_full, recs, px):
    """Whole raster, true | false colour, with every square outlined: context for labeling and targeting."""
    h, w = true_full.shape[:2]
    canvas = Image.new("RGB", (2 * w + 10, h), "white")
    canvas.paste(Image.fromarray(true_full), (0, 0)); canvas.paste(Image.fromarray(false_full), (w + 10, 0))
    d, f = ImageDraw.Draw(canvas), font(14)
    for rec in recs:
        for x0 in (0, w + 10):
            col = "yellow" if rec["selection"] == "random" else "cyan"
            d.rectangle([x0 + rec["_col"], rec["_row"], x0 + rec["_col"] + px - 1, rec["_row"] + px - 1], outline=col)
            d.text((x0 + rec["_col"] + 3, rec["_row"] + 2), rec["tile_id"].split("_")[1], fill=col, font=f)
    canvas.save(OUT / f"overview_{year}.png")
    # grid version without squares, for choosing targeted squares by pixel offset
    grid = Image.new("RGB", (w, h)); grid.paste(Image.fromarray(true_full))
    d = ImageDraw.Draw(grid)
    for x in range(0, w, 100): d.line([(x, 0), (x, h)], fill="red"); d.text((x + 2, 2), str(x), fill="red", font=f)
    for y in range(0, h, 100): d.line([(0, y), (w, y)], fill="red"); d.text((2, y + 2), str(y), fill="red", font=f)
    grid.save(OUT / f"grid_{year}.png")


def montages(records, prefix="montage", with_labels=False, per=16, cols=4):
    """4 x 4 montages of true | false colour pairs, the tile id (and, for review, the label) printed on each."""
    s, gap, head = MONTAGE_CHIP_PX, 12, 22
    f = font(16)
    by_year: dict[int, list] = {}
    for rec in records: by_year.setdefault(rec["year"], []).append(rec)
    for year, recs in by_year.items():
        for start in range(0, len(recs), per):
            batch = recs[start:start + per]
            rows = (len(batch) + cols - 1) // cols
            canvas = Image.new("RGB", (cols * (2 * s + gap), rows * (s + head + gap)), "white")
            d = ImageDraw.Draw(canvas)
            for k, rec in enumerate(batch):
                x, y = (k % cols) * (2 * s + gap), (k // cols) * (s + head + gap)
                caption = f"{rec['tile_id']}  {rec['acq_date']}"
                if with_labels: caption += f"  {rec['label']}" + (" (mixed)" if rec["confidence"] == "mixed" else "")
                d.text((x + 2, y + 2), caption, fill="black", font=f)
                for i, kind in enumerate(("true", "false")):
                    chip = Image.open(OUT / "chips" / f"{rec['tile_id']}_{kind}.png").resize((s, s), Image.LANCZOS)
                    canvas.paste(chip, (x + i * s, y + head))
            canvas.save(OUT / f"{prefix}_{year}_{start // per}.png")


def timeline(paths: list[Path], records: list[dict], tile_ids: list[str], size=160):
    """The same square (by its centre) in every year, true colour over false colour: used while labeling to tell
    a crop field (bare, stubble or rows in other years) from grass (mottled in every year) when one image is not
    enough. Writes timeline_<tile_id>.png."""
    by_id = {r["tile_id"]: r for r in records}
    unknown = [t for t in tile_ids if t not in by_id]
    if unknown: sys.exit(f"--timeline: unknown tile ids {unknown}; see {OUT / 'positions.csv'}.")
    years = []
    for path in paths:
        with rasterio.open(path) as src:
            lo, hi = stretch(src)
            years.append((year_of(path), src.read(), lo, hi, src.transform, window_px(src)))
    f = font(14)
    for tid in tile_ids:
        rec = by_id[tid]
        canvas = Image.new("RGB", (len(years) * size, 2 * size + 20), "white")
        d = ImageDraw.Draw(canvas)
        d.text((2, 2), f"{tid}: {rec['label'] or 'unlabeled'} {rec['confidence']}", fill="black", font=f)
        for j, (year, arr, lo, hi, T, px) in enumerate(years):
            c = int(round((rec["center_x"] - FOOTPRINT_M / 2 - T.c) / T.a))
            r = int(round((T.f - rec["center_y"] - FOOTPRINT_M / 2) / abs(T.e)))
            c, r = min(max(c, 0), arr.shape[2] - px), min(max(r, 0), arr.shape[1] - px)  # rasters differ by <= 3 m
            win = arr[:, r:r + px, c:c + px]
            for k, bands in enumerate(((1, 2, 3), (4, 1, 2))):
                canvas.paste(Image.fromarray(to_rgb(win, lo, hi, bands)).resize((size, size), Image.LANCZOS),
                             (j * size, 20 + k * size))
            d.text((j * size + 3, 22), str(year), fill="yellow", font=f)
        canvas.save(OUT / f"timeline_{tid}.png")


def check_against_committed(records):
    if not CHECK_CSV.exists(): return
    with CHECK_CSV.open() as fh: committed = {row["tile_id"]: row for row in csv.DictReader(fh)}
    drawn = {r["tile_id"]: r for r in records}
    if set(committed) != set(drawn):
        sys.exit(f"{CHECK_CSV}: tile ids differ from the draw (missing {sorted(set(drawn) - set(committed))}, "
                 f"extra {sorted(set(committed) - set(drawn))}); the seed or TARGETED list changed.")
    for tid, row in committed.items():
        for key in ("center_x", "center_y", "source"):
            if str(drawn[tid][key]) != row[key]:
                sys.exit(f"{CHECK_CSV}: {tid} {key} is {row[key]} but the draw gives {drawn[tid][key]}.")
    for rec in records:
        rec.update(label=committed[rec["tile_id"]]["label"], confidence=committed[rec["tile_id"]]["confidence"])
    print(f"{CHECK_CSV.relative_to(REPO)}: geometry of {len(committed)} squares matches the draw.")


def merge_labels(records, labels_path: Path):
    """Write the check CSV: drawn geometry + the by-eye labels typed into `labels_path`."""
    with labels_path.open() as fh: labels = {row["tile_id"].strip(): row for row in csv.DictReader(fh)}
    missing = [r["tile_id"] for r in records if r["tile_id"] not in labels]
    extra = sorted(set(labels) - {r["tile_id"] for r in records})
    if missing or extra:
        sys.exit(f"{labels_path}: no label for {missing}; unknown ids {extra}. Label every drawn square once.")
    for rec in records:
        lab = labels[rec["tile_id"]]
        label, conf = lab["label"].strip(), lab["confidence"].strip()
        if label not in CLASSES or conf not in ("clear", "mixed"):
            sys.exit(f"{labels_path}: {rec['tile_id']} has label={label!r} confidence={conf!r}; "
                     f"use one of {CLASSES} and clear|mixed.")
        note = lab.get("note", "").strip()
        if rec["_why"] and not note.startswith(rec["_why"]):  # the check CSV itself can be the labels file
            note = "; ".join(x for x in (rec["_why"], note) if x)
        rec.update(label=label, confidence=conf, note=note)
    CHECK_CSV.parent.mkdir(parents=True, exist_ok=True)
    with CHECK_CSV.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore", lineterminator="\n")
        w.writeheader(); w.writerows(records)
    print(f"wrote {CHECK_CSV.relative_to(REPO)} ({len(records)} squares)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--labels", type=Path, help="CSV tile_id,label,confidence,note typed by the labeler")
    mode.add_argument("--check", action="store_true",
                    help="only re-draw the positions and check them against the committed CSV (no images)")
    ap.add_argument("--timeline", nargs="+", default=[], metavar="TILE_ID",
                    help="also render these squares in every year (timeline_<id>.png)")
    args = ap.parse_args(argv)
    paths = rasters()
    if args.check:
        if not CHECK_CSV.exists(): sys.exit(f"{CHECK_CSV} does not exist yet: label first (--labels).")
        return check_against_committed(positions(paths))
    records = render(paths)
    with (OUT / "positions.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS + ["_row", "_col", "_why"], lineterminator="\n")
        w.writeheader(); w.writerows(records)
    print(f"{len(records)} squares rendered under {OUT.relative_to(REPO)}/")
    montages(records)  # what the labeler looked at: no labels on them
    if args.labels: merge_labels(records, args.labels)
    else: check_against_committed(records)
    if all(r["label"] for r in records):
        montages(records, prefix="labeled", with_labels=True)  # for review of the labels
        print(f"labeled montages: {OUT.relative_to(REPO)}/labeled_<year>_<k>.png")
    if args.timeline:
        timeline(paths, records, args.timeline)
        print(f"timelines: {', '.join(f'timeline_{t}.png' for t in args.timeline)}")


if __name__ == "__main__":
    main()
