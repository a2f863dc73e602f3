"""Benchmark of the GIS writers (aerial_nb.gis) on a real ~60,000-tile NAIP tile set: file sizes against predictions.csv, write times.

    .venv/bin/python bench/bench_gis.py [OUT_DIR]      (needs ../shared/data/naip_nd; prints figures, writes OUT_DIR/bench_gis.json)

The tile set is real: `aerial-nb tile` windows of the ten NAIP years of one quarter-quad, 224 m footprints every 50 m
(overlapping). The predicted classes are SYNTHESIZED (drawn at random over the 21 UC Merced classes, Dirichlet
probabilities): scoring 60,000 tiles on this machine takes hours, and the writers' sizes and times depend on the number
of tiles, classes and acquisitions, not on which class a tile got. Random classes are the worst case for the COGs'
compression (a real map has large patches of one class), so their sizes are upper bounds.
"""
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NAIP = ROOT.parent / "shared" / "data" / "naip_nd"
UCMERCED_CLASSES = ["agricultural", "airplane", "baseballdiamond", "beach", "buildings", "chaparral", "denseresidential",
                    "forest", "freeway", "golfcourse", "harbor", "intersection", "mediumresidential", "mobilehomepark",
                    "overpass", "parkinglot", "river", "runway", "sparseresidential", "storagetanks", "tenniscourt"]


def _tool(*cmd) -> str:
    if shutil.which(cmd[0]) is None: return f"({cmd[0]} not installed)"
    r = subprocess.run(cmd, capture_output=True, text=True)
    return (r.stdout + r.stderr).strip()


def main(out: Path) -> dict:
    from aerial_nb.gis import write_gis_outputs
    from aerial_nb.tiles import tile_rasters
    if not NAIP.is_dir(): sys.exit(f"skipped: real data {NAIP} is absent")
    t0 = time.time()
    tiles = tile_rasters(NAIP, out / "tiles", footprint_m=224, stride_m=50, write_images=False)
    tile_s = time.time() - t0
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(len(UCMERCED_CLASSES), 0.3), len(tiles))
    pred = tiles.drop(columns=["path"], errors="ignore").assign(
        pred_label=np.asarray(UCMERCED_CLASSES)[probs.argmax(1)],
        **{f"prob_{c}": probs[:, i] for i, c in enumerate(UCMERCED_CLASSES)}, model_name="synthetic-labels",
        run_id="bench-gis")
    score = out / "score"; score.mkdir(parents=True, exist_ok=True)
    t = time.time(); pred.to_parquet(score / "predictions.parquet", index=False); pq_s = time.time() - t
    t = time.time(); pred.to_csv(score / "predictions.csv", index=False); csv_s = time.time() - t
    s = write_gis_outputs(score)
    gis = score / "gis"
    cogs = sorted(gis.glob("classes_*.tif")); probs_ = sorted(gis.glob("probability_*.tif")); changes = sorted(gis.glob("change_*.tif"))
    mib = lambda ps: sum(p.stat().st_size for p in ps) / 2**20
    report = {
        "n_tiles": len(pred), "n_acquisitions": len(cogs), "n_classes": len(UCMERCED_CLASSES),
        "grid_px": s["acquisitions"][0]["grid"], "stride_m": s["acquisitions"][0]["stride"],
        "seconds_tiling": round(tile_s, 1), "seconds_predictions_parquet": round(pq_s, 2), "seconds_predictions_csv": round(csv_s, 2),
        "seconds_gis": s["seconds"],
        "mib": {"predictions.csv": mib([score / "predictions.csv"]), "predictions.parquet": mib([score / "predictions.parquet"]),
                "gis/tiles.parquet (GeoParquet)": mib([gis / "tiles.parquet"]), "gis/tiles.gpkg (GeoPackage)": mib([gis / "tiles.gpkg"]),
                f"gis/classes_*.tif ({len(cogs)} COGs)": mib(cogs), f"gis/probability_*.tif ({len(probs_)} COGs)": mib(probs_),
                f"gis/change_*.tif ({len(changes)} COGs)": mib(changes), "gis/stac": mib(list((gis / "stac").rglob("*.json")))},
        "stac_validated": s["stac_validated"],
        "rio_cogeo_validate": _tool(str(Path(sys.executable).parent / "rio"), "cogeo", "validate", str(cogs[-1])),
        "gdalinfo": _tool("gdalinfo", str(cogs[-1])),
        "ogrinfo": _tool("ogrinfo", "-so", "-al", str(gis / "tiles.gpkg")),
    }
    report["mib"] = {k: round(v, 3) for k, v in report["mib"].items()}
    (out / "bench_gis.json").write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bench_gis-"))
    r = main(out)
    print(f"{r['n_tiles']} tiles, {r['n_acquisitions']} acquisitions, {r['n_classes']} classes; grid {r['grid_px']} px at "
          f"{r['stride_m']} m; tiling {r['seconds_tiling']} s")
    for k, v in r["mib"].items(): print(f"  {k:40s} {v:10.3f} MiB")
    print("  write seconds:", json.dumps(r["seconds_gis"]), f"(predictions.parquet {r['seconds_predictions_parquet']} s, "
          f"predictions.csv {r['seconds_predictions_csv']} s)")
    print("  STAC validated:", r["stac_validated"])
    print("  " + r["rio_cogeo_validate"])
    print(f"details in {out / 'bench_gis.json'}")
