#!/usr/bin/env python
"""Which classifier over the tuned network's features? Compared in seconds on the block split's saved features.

    python bench/finetune_local.py ... --tuned-features --block-split-only --save-features outputs/bench/folds.parquet
    python bench/finetune_variants.py outputs/bench/folds.parquet [outputs/bench/folds_seed1.parquet ...]

Each variant of `bench/local_labels.py`'s yardstick (the pipeline's logistic regression, PCA 8 of each view's network
columns beside the band statistics) is fitted on each fold's training rows and predicts its other rows, as
`finetune_local.py --tuned-features` does; printed per variant: accuracy and grassland recall / precision on the random
squares (the unbiased estimate over the training blocks) and on all judged squares. Given the folds of several tuning
seeds, also each seed's default and an ensemble: their logistic regressions' class probabilities averaged. Nothing here
sees the judging sample.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_labels as L  # noqa: E402

VIEWS = ("full", "falsecolor", "center2x", "falsecolor-center2x")
VARIANTS = [{}, {"weights": "balanced"}, {"pca": 4}, {"pca": 16}, {"pca": 32}, {"pca": 0}, {"views": 2},
            {"clf": "logistic-weak-l2"}, {"clf": "logistic-strong-l2"}, {"stats": False}]
# Where the folds carry the tuned network's own head (`head:<class>`, 1 turn; `head4:<class>`, 4 turns): the head
# alone, and the default with the head's log-probabilities as more columns (stacked, fitted on the same squares).
HEAD_VARIANTS = [{"head": "head"}, {"head": "head4"}, {"with_head": "head"}, {"with_head": "head4"}]


def predict(folds: pd.DataFrame, pca=8, weights="none", clf="logistic", views=4, stats=True, head="",
            with_head="") -> pd.DataFrame:
    """Each fold's test rows with `pred`, from a classifier fitted on that fold's training rows (`head`: the argmax of
    those head columns instead; `with_head`: their log-probabilities beside the classifier's columns)."""
    L.PCA_K, L.CLASS_WEIGHTS, L.CLASSIFIER = pca, weights, clf
    if head:
        cols = [c for c in folds.columns if c.startswith(head + ":")]
        test = folds[folds.role == "test"]
        return test.assign(pred=[cols[i].split(":", 1)[1] for i in test[cols].to_numpy().argmax(1)])
    if with_head:
        logp = np.log(folds[[c for c in folds.columns if c.startswith(with_head + ":")]].clip(lower=1e-6))
        folds = folds.assign(**{f"band-stats:{c}": logp[c] for c in logp.columns})   # passed through, not reduced
    keep = [c for c in folds.columns if (stats and c.startswith("band-stats"))
            or (c.startswith("tuned:") and c.split(":")[1] in VIEWS[:views])]
    out = []
    for f in sorted(folds.fold.unique()):
        a, b = (folds[(folds.fold == f) & (folds.role == r)] for r in ("train", "test"))
        out.append(b.assign(pred=L.fit_predict(a[keep], a.label.to_numpy(), b[keep])))
    return pd.concat(out)


def scores(p: pd.DataFrame) -> dict:
    g = p.pred == "grassland"
    return {"accuracy": round(float((p.pred == p.label).mean()), 3),
            "grassland_recall": round(float((p[p.label == "grassland"].pred == "grassland").mean()), 3),
            "grassland_precision": round(float((p[g].label == "grassland").mean()), 3) if g.any() else None}


def seed_ensemble(runs: list[pd.DataFrame]) -> pd.DataFrame:
    "The first run's test rows with `pred`: the argmax of the default classifier's probabilities averaged over runs."
    L.PCA_K, L.CLASS_WEIGHTS, L.CLASSIFIER = 8, "none", "logistic"
    key = ["tile_id", "fold", "role"]
    runs = [r.set_index(key).loc[runs[0].set_index(key).index].reset_index() for r in runs]   # the same rows in order
    out = []
    for f in sorted(runs[0].fold.unique()):
        a, b = (runs[0].fold == f) & (runs[0].role == "train"), (runs[0].fold == f) & (runs[0].role == "test")
        fits = [L.fit_proba(r[a][cols], r[a].label.to_numpy(), r[b][cols])
                for r in runs for cols in [[c for c in r.columns if c.startswith(("tuned:", "band-stats"))]]]
        classes = list(fits[0][0])
        assert all(list(c) == classes for c, _ in fits), "a fold's classes differ between runs"
        P = sum(P for _, P in fits) / len(fits)
        out.append(runs[0][b].assign(pred=[classes[i] for i in P.argmax(1)]))
    return pd.concat(out)


if __name__ == "__main__":
    folds = pd.read_parquet(sys.argv[1])
    for v in VARIANTS + (HEAD_VARIANTS if any(c.startswith("head:") for c in folds.columns) else []):
        p = predict(folds, **v)
        print(json.dumps({"variant": v or "the default", "random": scores(p[p.random]), "all": scores(p)}), flush=True)
    if len(sys.argv) > 2:
        runs = [folds, *(pd.read_parquet(f) for f in sys.argv[2:])]
        for f, r in zip(sys.argv[1:], runs):
            p = predict(r)
            print(json.dumps({"seed run": f, "random": scores(p[p.random]), "all": scores(p)}), flush=True)
        p = seed_ensemble(runs)
        print(json.dumps({"ensemble of": len(runs), "random": scores(p[p.random]), "all": scores(p)}), flush=True)
