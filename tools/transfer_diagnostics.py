#!/usr/bin/env python
"""Why the EuroSAT-trained map of the North Dakota NAIP clips fails its checks (issue 11): a diagnostic, not a map.

It answers three questions with the package's own pieces (EfficientNet-Lite0 features through onnxruntime, the
histogram matching and blur of `aerial_nb.radiometry`, the spectral classes of `aerial_nb.map_qa`):

1. Footprint: does scoring at a larger or smaller footprint than EuroSAT's 640 m help? Check-set accuracy of a
   logistic regression on EuroSAT features, for squares of 640 to 1920 m around each check square's centre.
2. Domain adaptation of the frozen features, without any NAIP label: class-prior re-estimation by EM (Saerens et al.
   2002), per-domain standardisation, CORAL (Sun et al. 2016) and cluster-then-label. Measured by how well P(water)
   ranks the tiles that the NIR band says are mostly water (ROC AUC, precision among the top k).
3. Separability: do frozen RGB features separate the check set's classes at all? A logistic regression fit by 5-fold
   cross-validation *within* the check set (an upper-bound diagnostic; it is not used for any map, the check set
   stays evaluation-only), against the NIR water fraction of the same squares.

    .venv/bin/python tools/transfer_diagnostics.py            # about 3 min on 2 cores; prints the tables

Needs ../shared/data (eurosat/, naip_nd/) through the `data` link (`make data`).
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import yaml
from rasterio.enums import Resampling
from rasterio.windows import Window
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aerial_nb.featurize import ort_session
from aerial_nb.map_qa import QA_RULES, spectral_classes
from aerial_nb.models import ensure_model
from aerial_nb.radiometry import match_tile, matching_lut, raster_histogram, reference_histogram
from aerial_nb.region import preprocess_rgb

warnings.filterwarnings("ignore")
REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
CHECK = pd.read_csv(REPO / "params" / "checksets" / "naip_nd_check.csv")
LABEL_MAP = {c: m for m, cs in yaml.safe_load((REPO / "params/label_maps/landcover5.yaml").read_text()).items() for c in cs}
PX, PSF = 64, 1.0      # EuroSAT's patch size and the default `image_psf_px`


def features(info, sess, chw_tiles: list[np.ndarray]) -> np.ndarray:
    x = np.stack([preprocess_rgb(t, info) for t in chw_tiles])
    return np.concatenate([sess.run([info["feature_tensor"]], {info["image_tensor"]: x[i:i + 64]})[0].reshape(len(x[i:i + 64]), -1)
                           for i in range(0, len(x), 64)])


def eurosat_sample(n_per_class: int = 200, seed: int = 0) -> tuple[list[Path], np.ndarray]:
    rng = np.random.default_rng(seed); paths, labels = [], []
    for d in sorted(p for p in (DATA / "eurosat").iterdir() if p.is_dir()):
        files = sorted(d.glob("*.jpg")); pick = rng.choice(len(files), n_per_class, replace=False)
        paths += [files[i] for i in sorted(pick)]; labels += [LABEL_MAP[d.name]] * n_per_class
    return paths, np.array(labels)


def windows(src, centres, footprint_m: float, lut, psf: float) -> list[np.ndarray]:
    "64 px RGB tiles of `footprint_m` around `centres` (x, y in the raster's CRS), as the model's training images looked."
    w = footprint_m / abs(src.transform.a)
    out = []
    for x, y in centres:
        row, col = src.index(x, y)
        rgb = src.read([1, 2, 3], window=Window(col - w / 2, row - w / 2, w, w), out_shape=(3, PX, PX),
                       resampling=Resampling.average, boundless=True)
        out.append(match_tile(rgb, lut, psf) if lut is not None else rgb)
    return out


def grid(src, footprint_m: float, stride_m: float):
    "Centres of a regular grid of windows lying wholly inside the raster's valid pixels."
    valid = src.read_masks(1) > 0
    w, s = int(footprint_m / abs(src.transform.a)), int(stride_m / abs(src.transform.a))
    for r in range(0, src.height - w + 1, s):
        for c in range(0, src.width - w + 1, s):
            if valid[r:r + w, c:c + w].mean() >= 0.99: yield src.xy(r + w // 2, c + w // 2), (r, c, w)


def fit(F, y):
    sc = StandardScaler().fit(F)
    return sc, LogisticRegression(C=0.1, max_iter=3000).fit(sc.transform(F), y)


def main():
    if not (DATA / "eurosat").is_dir() or not (DATA / "naip_nd").is_dir():
        sys.exit(f"{DATA} lacks eurosat/ or naip_nd/: run `make data` (links ../shared/data).")
    info = ensure_model("efficientnet-lite0", REPO / "outputs" / "model_store"); sess = ort_session(info["onnx_file"], 2)
    paths, ys = eurosat_sample()
    ref = reference_histogram(paths)
    from PIL import Image
    FE = features(info, sess, [np.moveaxis(np.asarray(Image.open(p).convert("RGB")), -1, 0) for p in paths])
    sc, clf = fit(FE, ys); cls = list(clf.classes_)
    print(f"EuroSAT sample: {len(paths)} images, 5 map classes, logistic regression C=0.1")

    # 1. check-set accuracy by footprint
    print("\n1. Check-set accuracy (185 squares) by scoring footprint, EuroSAT-trained classifier")
    labels = CHECK.label.to_numpy(); feats_640 = {}
    for foot in (640, 960, 1280, 1920):
        for matched in (False, True):
            tiles, idx = [], []
            for src_name, g in CHECK.groupby("source"):
                with rasterio.open(DATA / "naip_nd" / src_name) as src:
                    lut = matching_lut(raster_histogram(src, foot / PX), ref) if matched else None
                    tiles += windows(src, zip(g.center_x, g.center_y), foot, lut, PSF if matched else 0.0); idx += list(g.index)
            N = features(info, sess, tiles); p = clf.predict(sc.transform(N)); lab = labels[idx]
            if foot == 640: feats_640[matched] = (N, lab)
            rec = " ".join(f"{c} {np.mean(p[lab == c] == c):.2f}" for c in ("cultivated", "grassland", "water"))
            print(f"  {foot:5d} m  {'matched+blur' if matched else 'raw colours ':12s}  accuracy {np.mean(p == lab):.2f}   recall: {rec}")
    print(f"  (one class everywhere: {pd.Series(labels).value_counts(normalize=True).max():.2f})")

    # 2. domain adaptation without NAIP labels, judged by the NIR water fraction of grid tiles
    print("\n2. Ranking of the NIR water tiles by P(water), 640 m tiles at a 320 m stride, colours matched + blur")
    tiles, meta = [], []
    for f in sorted((DATA / "naip_nd").glob("*.tif")):
        with rasterio.open(f) as src:
            sp, _ = spectral_classes(src); lut = matching_lut(raster_histogram(src, 640 / PX), ref)
            cells = list(grid(src, 640, 320))
            tiles += windows(src, [c for c, _ in cells], 640, lut, PSF)
            for _, (r, c, w) in cells:
                win = sp[r:r + w, c:c + w]
                meta.append({"year": f.stem[-8:-4], "water": float((win == 1).sum() / max((win > 0).sum(), 1))})
    meta = pd.DataFrame(meta); N = features(info, sess, tiles); wt = (meta.water >= QA_RULES["water_tile"]).to_numpy()
    Fs, Ns = StandardScaler().fit_transform(FE), StandardScaler().fit_transform(N)

    def rank(name, P):
        pw = P[:, cls.index("water")]; top = np.argsort(-pw)[:wt.sum()]
        print(f"  {name:34s} AUC {roc_auc_score(wt, pw):.3f}   precision@{wt.sum()} {wt[top].mean():.2f}")
    P = clf.predict_proba(sc.transform(N)); rank("EuroSAT classifier", P)
    prior_s = pd.Series(ys).value_counts(normalize=True)[cls].to_numpy(); prior = prior_s.copy()
    for _ in range(100):
        Q = P * (prior / prior_s); Q /= Q.sum(1, keepdims=True); prior = Q.mean(0)
    rank("+ priors re-estimated by EM", Q)
    rank("per-domain standardisation", LogisticRegression(C=0.1, max_iter=3000).fit(Fs, ys).predict_proba(Ns))
    pca = PCA(128, random_state=0).fit(np.vstack([Fs, Ns])); A, B = pca.transform(Fs), pca.transform(Ns)
    cov = lambda Z: np.cov(Z, rowvar=False) + np.eye(Z.shape[1])
    root = lambda C, e: (lambda w, v: (v * w ** e) @ v.T)(*np.linalg.eigh(C))
    A_coral = (A - A.mean(0)) @ root(cov(A), -0.5) @ root(cov(B), 0.5) + B.mean(0)
    rank("CORAL (PCA 128)", LogisticRegression(C=0.1, max_iter=3000).fit(A_coral, ys).predict_proba(B))
    km = KMeans(16, n_init=10, random_state=0).fit(PCA(64, random_state=0).fit_transform(Ns))
    M = np.stack([P[km.labels_ == j].mean(0) for j in range(16)])
    rank("cluster-then-label (16 clusters)", M[km.labels_])
    print(f"  ({wt.sum()} of {len(wt)} tiles are ≥ {QA_RULES['water_tile']:.0%} open water by NIR)")

    # 3. separability within NAIP
    print("\n3. Within the check set (5-fold CV; a diagnostic, not a map): frozen RGB features vs the NIR band")
    for matched, (N, lab) in feats_640.items():
        p = cross_val_predict(make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000)), N, lab,
                              cv=StratifiedKFold(5, shuffle=True, random_state=0))
        rec = " ".join(f"{c} {np.mean(p[lab == c] == c):.2f}" for c in ("cultivated", "grassland", "water"))
        print(f"  RGB features, {'matched+blur' if matched else 'raw colours '}: accuracy {np.mean(p == lab):.2f}   recall: {rec}")
    rows = []
    for src_name, g in CHECK.groupby("source"):
        with rasterio.open(DATA / "naip_nd" / src_name) as src:
            sp, _ = spectral_classes(src); half = int(320 / abs(src.transform.a))
            for r in g.itertuples():
                row, col = src.index(r.center_x, r.center_y)
                win = sp[max(row - half, 0):row + half, max(col - half, 0):col + half]
                rows.append({"label": r.label, "water": (win == 1).sum() / max((win > 0).sum(), 1)})
    d = pd.DataFrame(rows); wl = d.label == "water"
    for t in (0.25, 0.35):
        pw = d.water >= t
        print(f"  NIR water fraction ≥ {t:.2f} as 'water': recall {(pw & wl).sum() / wl.sum():.2f}, precision {(pw & wl).sum() / pw.sum():.2f}")


if __name__ == "__main__":
    main()
