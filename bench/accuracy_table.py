"""The accuracy table of the README: each row one run of the pipeline (explore, featurize, train) with 5-fold
cross-validation, on UC Merced, EuroSAT (10 classes) and EuroSAT's map classes (landcover5).

    python bench/accuracy_table.py [--data ucmerced eurosat eurosat-landcover5] [--rows NAME ...] [--sample-frac F]
                                   [--out outputs/bench/accuracy]

Rows share the per-image feature cache of the outputs folder: a fused row reuses its models' features, a row with
`tta` its own. Each row's result is appended to OUT.jsonl as soon as it is known (a killed table keeps its rows; a
row already there is not run again), and the Markdown table is written to OUT.md. Featurize seconds count only the
images computed for that row (0 when every feature came from the cache); fit seconds are one fit on the 80% split.
Run it on a quiet machine from the project's root with the project's environment (`make install`).
"""
from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import yaml

from aerial_nb.pipeline import run_pipeline, notebooks_dir
from aerial_nb.run_folder import RunFolder
from aerial_nb.settings import load_settings
from aerial_nb.step_kernel import StepKernel

DATA = {   # name: (params file, overrides)
    "ucmerced": ("params/ucmerced.yaml", {}),
    "eurosat": ("params/eurosat.yaml", {"label_map": ""}),
    "eurosat-landcover5": ("params/eurosat.yaml", {"label_map": "landcover5"}),
}
L0, L1, L2 = "efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"
ROWS = {   # name: overrides of the row (on top of the data set's)
    "lite0": {"pretrained_model_type": L0},
    "lite1": {"pretrained_model_type": L1},
    "lite2": {"pretrained_model_type": L2},
    "lite0 tta": {"pretrained_model_type": L0, "tta": True},
    "lite1 tta": {"pretrained_model_type": L1, "tta": True},
    "lite2 tta": {"pretrained_model_type": L2, "tta": True},
    "lite0+1+2": {"pretrained_model_type": [L0, L1, L2]},
    "lite0+1+2 tta": {"pretrained_model_type": [L0, L1, L2], "tta": True},
    "lite0+1 tta": {"pretrained_model_type": [L0, L1], "tta": True},
    "lite0+1 full+center2x tta": {"pretrained_model_type": [L0, L1], "views": ["full", "center2x"], "tta": True},
    "lite0 full+center2x": {"pretrained_model_type": L0, "views": ["full", "center2x"]},
    "lite0 full+center2x tta": {"pretrained_model_type": L0, "views": ["full", "center2x"], "tta": True},
    # The same two views averaged (one 1,280-wide vector) instead of side by side.
    "lite0 mean(full,center2x)": {"pretrained_model_type": L0, "views": ["full", "center2x"], "view_pool": "mean"},
    "lite0 mean(full,center2x) tta": {"pretrained_model_type": L0, "views": ["full", "center2x"], "view_pool": "mean",
                                      "tta": True},
    "lite0+1+2 full+center2x tta": {"pretrained_model_type": [L0, L1, L2], "views": ["full", "center2x"], "tta": True},
    "lite0 tta, tuned": {"pretrained_model_type": L0, "tta": True, "tune_folds": 3},
    "lite0+1+2 tta, tuned": {"pretrained_model_type": [L0, L1, L2], "tta": True, "tune_folds": 3},
}
# tta off unless a row asks for it: params/ucmerced.yaml and eurosat.yaml turn it on by default, and a row named
# "lite0" must mean the plain features.
COMMON = {"featurizer_backend": "onnxruntime", "classifier": "logistic_regression", "cv_folds": 5, "seed": 42,
          "score_raster": "", "overwrite_model": True, "tta": False}
STEPS = ["00_setup", "01_explore", "02_featurize", "03_train"]


def row_params(data: str, row: str, sample_frac: float | None) -> dict:
    path, data_overrides = DATA[data]
    params = {**yaml.safe_load(Path(path).read_text()), **data_overrides, **COMMON, **ROWS[row]}
    if sample_frac: params["sample_frac"] = sample_frac
    params["run_name"] = f"acc-{data}"
    name = f"acc-{data}-{row}".replace(" ", "_").replace("+", "p")
    params["output_model_name"] = re.sub(r"[^A-Za-z0-9_.-]", "", name)   # a plain folder name
    return params


def run_row(data: str, row: str, *, sample_frac: float | None, kernel: StepKernel) -> dict:
    params = row_params(data, row, sample_frac)
    t0 = time.time()
    run_dir = run_pipeline(params, steps=STEPS, kernel=kernel)
    folder = RunFolder(run_dir)
    m = json.loads(folder.metrics.read_text())
    f = json.loads(folder.features.read_text())
    return {"data": data, "row": row, "sample_frac": params["sample_frac"], "n_images": m["n_images"],
            "cv_mean": m["cv"]["mean"], "cv_std": m["cv"]["std"], "cv_folds": m["cv"]["folds"],
            "cv_seed": m["cv"]["seed"],
            "test_accuracy": m["accuracy"], "feature_dim": m["feature_dim"], "tta": f.get("tta"),
            "featurize_seconds": m["featurize_seconds"], "cache_misses": f.get("cache_misses"),
            "fit_seconds": m["fit_seconds"], "tuned": m.get("tuning", {}).get("chosen"),
            "wall_seconds": round(time.time() - t0, 1), "run_dir": str(run_dir)}


def featurized(r: dict) -> str:
    "Seconds spent computing features, and how many images; `cached` when every feature came from earlier rows."
    return "cached" if not r["cache_misses"] else f"{r['featurize_seconds']:.0f} ({r['cache_misses']:,})"


def markdown(rows: list[dict]) -> str:
    out = ["| data | features | images | 5-fold CV accuracy | held-out | dim | featurize s (images computed) | fit s |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['data']} | {r['row']} | {r['n_images']:,} | {r['cv_mean']:.4f} ± {r['cv_std']:.4f} | "
                   f"{r['test_accuracy']:.4f} | {r['feature_dim']} | {featurized(r)} | {r['fit_seconds']:.0f} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", nargs="+", default=list(DATA), choices=list(DATA))
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    ap.add_argument("--sample-frac", type=float, default=None, help="of each data set (default: its params file's)")
    ap.add_argument("--out", default="outputs/bench/accuracy")
    a = ap.parse_args()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = [json.loads(l) for l in out.with_suffix(".jsonl").read_text().splitlines()] if out.with_suffix(
        ".jsonl").exists() else []
    have = {(r["data"], r["row"], r["sample_frac"]) for r in done}
    with StepKernel(notebooks_dir(load_settings())) as kernel:
        for data in a.data:
            for row in a.rows:
                frac = row_params(data, row, a.sample_frac)["sample_frac"]
                if (data, row, frac) in have: continue
                r = run_row(data, row, sample_frac=a.sample_frac, kernel=kernel)
                done.append(r)
                with out.with_suffix(".jsonl").open("a") as fh: fh.write(json.dumps(r) + "\n")
                out.with_suffix(".md").write_text(markdown(done))
                print(markdown([r]).splitlines()[-1], flush=True)
    print(markdown(done))


if __name__ == "__main__":
    main()
