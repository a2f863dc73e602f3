"""Benchmark helper (not a test): maps of real predictions + Chromium screenshots. Usage: python bench/bench_region_maps.py SCORE_DIR OUT_DIR NAME [FROM TO]"""
import sys, time, subprocess, tempfile, shutil, re
from pathlib import Path
import pandas as pd
from aerial_nb.offline_map import region_maps
score, out, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
yf, yt = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else (None, None)
t0 = time.time()
preds = pd.read_parquet(score / "predictions.parquet")
o = region_maps(preds, out, year_from=yf, year_to=yt, thumbnails=300, overlay_px=1024)
print(f"maps of {len(preds)} tiles in {time.time()-t0:.1f} s: " + ", ".join(f"{k} {v.stat().st_size/2**20:.1f} MiB" for k, v in o.items()))
print(pd.read_csv(o["class_area"], index_col=0).round(3).to_string())
shots = Path(__file__).resolve().parents[1] / "outputs" / "screenshots"; shots.mkdir(parents=True, exist_ok=True)
for key in ("map", "change"):
    if key not in o: continue
    prof = tempfile.mkdtemp()
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run", f"--user-data-dir={prof}", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--proxy-server=http://127.0.0.1:9", "--virtual-time-budget=20000", "--window-size=1400,1000"]
    dom = subprocess.run(cmd + ["--dump-dom", o[key].resolve().as_uri()], capture_output=True, text=True, timeout=300).stdout
    m = re.search(r'data-tiles-drawn="(-?\d+)"', dom)
    subprocess.run(cmd + [f"--screenshot={shots / f'{name}_{key}.png'}", o[key].resolve().as_uri()], capture_output=True, timeout=300)
    shutil.rmtree(prof, ignore_errors=True)
    print(f"{key}: tiles drawn {m.group(1) if m else None}, paths {dom.count('leaflet-interactive')}, overlays {dom.count('leaflet-image-layer')}; screenshot {shots / f'{name}_{key}.png'}")
