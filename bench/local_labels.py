#!/usr/bin/env python
"""What local labels buy the NAIP map, measured on the squares labeled by eye (issue 27, items 2, 4 and 5).

    python bench/local_labels.py parts        # which features pay, and at which footprint (block CV on training squares)
    python bench/local_labels.py curve        # accuracy on the judging sample against the number of local labels
    python bench/local_labels.py temporal     # does a cell's land use gain from its other years? (block CV)
    python bench/local_labels.py models       # other classifiers, a wider context, each year standardised (both)

Features are computed by the scorer's own code (`aerial_nb.region.window_features_frames` over raster windows: the
pixels, views and networks of a map tile), one part (model x view) at a time, cached under
outputs/bench/local_labels/. The classifier is scikit-learn's logistic regression with the L2 strength of the
pipeline's Spark default (regParam 0.01 on standardised features, i.e. C = 1 / (0.01 n)): a yardstick for choosing
parts and footprints quickly, not the pipeline's own fit.

- `parts`: leave-one-block-out cross-validation over the training blocks (params/labels/naip_nd_blocks.yaml): every
  training square is predicted by a model that never saw its block. The judging squares are not used.
- `curve`: a model trained on n local training squares (drawn at random, 5 draws each) with and without EuroSAT
  (params/default's 20%, grouped by landcover5), judged on the judging sample (params/labels/naip_nd_judging.csv),
  weighted by its inclusion probabilities.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from aerial_nb.labels import Blocks, read_labels, square_window, window_problem  # noqa: E402
from aerial_nb.models import ensure_model  # noqa: E402
from aerial_nb.region import window_features_frames  # noqa: E402
from aerial_nb.recipe import Featurizer  # noqa: E402

RASTERS = REPO / "data" / "naip_nd"
TRAIN = REPO / "params" / "labels" / "naip_nd_train.csv"
JUDGE = REPO / "params" / "labels" / "naip_nd_judging.csv"
BLOCKS = REPO / "params" / "labels" / "naip_nd_blocks.yaml"
STORE = REPO / "outputs" / "model_store"
CACHE = REPO / "outputs" / "bench" / "local_labels"
CLASSES = ["water", "cultivated", "grassland", "developed", "forest"]
GSD = 5.0


def windows(labels: pd.DataFrame, context_m: float) -> pd.DataFrame:
    "Raster windows of `context_m` centred on each labeled square (rows whose context leaves the raster dropped)."
    import rasterio
    rows = []
    for source, g in labels.groupby("source_path"):
        with rasterio.open(source) as src:
            for r in g.itertuples():
                w = square_window(src, r.center_x, r.center_y, context_m)   # as a run cuts its squares
                if window_problem(src, w): continue
                rows.append(dict(filename=r.tile_id, source_path=source, row_off=w.row_off, col_off=w.col_off,
                                 win_width=float(w.width), win_height=float(w.height), tile_px=int(w.width),
                                 bands="1,2,3"))
    return pd.DataFrame(rows)


def part_features(labels: pd.DataFrame, context_m: float, model: str, view: str, name: str) -> pd.DataFrame:
    "tile_id -> features of one part (model over one view) at `context_m`, cached by the squares' ids."
    import hashlib
    ids = hashlib.sha1(",".join(sorted(labels.tile_id)).encode()).hexdigest()[:8]
    f = CACHE / f"{name}-{ids}_{int(context_m)}_{model}_{view}.parquet"
    if f.exists(): return pd.read_parquet(f)
    part = Featurizer.from_params(model, STORE, views=[view])   # one network over one view
    w = windows(labels, context_m)
    t0 = time.time()
    out = pd.concat(list(window_features_frames([w], part, threads=2, mini_batch_size=32)))
    print(f"  {name} {context_m:g} m {model} {view}: {len(w)} windows in {time.time() - t0:.1f} s", flush=True)
    df = pd.DataFrame(np.stack(out.features.to_numpy()), index=out.filename.to_numpy())
    df.columns = [f"{model}:{view}:{i}" for i in range(df.shape[1])]
    f.parent.mkdir(parents=True, exist_ok=True); df.to_parquet(f)
    return df


def features(labels, context_m, parts, name) -> pd.DataFrame:
    return pd.concat([part_features(labels, context_m, m, v, name) for m, v in parts], axis=1, join="inner")


PCA_K = 0   # > 0: the network columns reduced to this many principal components (the pipeline's network_pca)
CLASS_WEIGHTS = "none"   # or "balanced": each class weighs the same in the fit (the pipeline's class_weights)
CLASSIFIER = "logistic"   # or another of `classifier`'s names (`models`)


def classifier(n: int, weight):
    "The yardstick's classifier for `n` training rows: CLASSIFIER, at the pipeline's L2 strength where it has one."
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC
    return {"logistic": lambda: LogisticRegression(C=1 / (0.01 * n), max_iter=3000, class_weight=weight),
            "logistic-weak-l2": lambda: LogisticRegression(C=10 / (0.01 * n), max_iter=5000, class_weight=weight),
            "logistic-strong-l2": lambda: LogisticRegression(C=0.1 / (0.01 * n), max_iter=5000, class_weight=weight),
            "svm-rbf": lambda: SVC(C=1.0, class_weight=weight),
            "boosted-trees": lambda: HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                                                    l2_regularization=1.0, class_weight=weight,
                                                                    random_state=0),
            "random-forest": lambda: RandomForestClassifier(500, min_samples_leaf=2, class_weight=weight, n_jobs=2,
                                                            random_state=0)}[CLASSIFIER]()


def fit_predict(Xtr, ytr, Xte):
    """CLASSIFIER (scikit-learn's logistic regression at the pipeline's L2 strength by default); with PCA_K, the
    network columns (those not from band-stats) standardised and reduced to PCA_K components first, fitted on the
    training rows only."""
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    weight = "balanced" if CLASS_WEIGHTS == "balanced" else None   # n / (k n_c), as train.class_weights_of
    steps = [StandardScaler(), classifier(len(ytr), weight)]
    cols = [str(c) for c in Xtr.columns] if hasattr(Xtr, "columns") else []
    parts = {}   # one PCA per network part (model:view), as the pipeline's network_pca
    for i, c in enumerate(cols):
        if not c.startswith("band-stats"): parts.setdefault(c.rsplit(":", 1)[0], []).append(i)
    if PCA_K and parts:
        rest = [i for i, c in enumerate(cols) if c.startswith("band-stats")]
        steps.insert(0, ColumnTransformer([("rest", "passthrough", rest)] + [
            (name, make_pipeline(StandardScaler(), PCA(PCA_K, random_state=0)), idx) for name, idx in parts.items()]))
    model = make_pipeline(*steps).fit(np.asarray(Xtr), ytr)
    if _PROBA: return model.classes_, model.predict_proba(np.asarray(Xte))
    return model.predict(np.asarray(Xte))


_PROBA = False   # fit_proba: fit_predict returns (classes, probabilities)


def block_cv(X: pd.DataFrame, labels: pd.DataFrame, train_only=()) -> dict:
    """Leave-one-block-out predictions of every square (the squares of `train_only` only train, never judged), and
    their accuracy; also on the randomly drawn squares alone (`random`: an unbiased estimate over the training blocks'
    ground, as the proposed squares are the hard ones by design), with per-class recall (PA) and precision (UA)."""
    blocks = Blocks.load(BLOCKS)
    lab = labels.set_index("tile_id").loc[X.index]
    group = np.array([str(blocks.block_of(x, y)) for x, y in zip(lab.center_x, lab.center_y)])
    judged = ~np.asarray(lab.index.isin(list(train_only)))
    y, pred = lab.label.to_numpy(), np.empty(len(lab), object)
    for g in sorted(set(group)):
        te = group == g
        pred[te & judged] = fit_predict(X[~te], y[~te], X[te & judged])
    def scores(m):
        return {"n": int(m.sum()), "accuracy": round(float((pred[m] == y[m]).mean()), 3),
                "recall": {c: round(float((pred[m & (y == c)] == c).mean()), 3) for c in CLASSES
                           if (m & (y == c)).any()},
                "precision": {c: round(float((y[m & (pred == c)] == c).mean()), 3) for c in CLASSES
                              if (m & (pred == c)).any()}}
    clear = judged & (lab.confidence == "clear").to_numpy()
    rnd = judged & (lab.selection == "random").to_numpy()
    return {**scores(judged), "clear": round(float((pred[clear] == y[clear]).mean()), 3), "random": scores(rnd)}


CNN4 = [("efficientnet-lite0", v) for v in ("full", "falsecolor", "center2x", "falsecolor-center2x")]
STATS4 = [("band-stats", v) for v in ("full", "falsecolor", "center2x", "falsecolor-center2x")]
PART_SETS = {
    "rgb cnn": [("efficientnet-lite0", "full")],
    "nir cnn": [("efficientnet-lite0", "falsecolor")],
    "rgb+nir cnn": [("efficientnet-lite0", "full"), ("efficientnet-lite0", "falsecolor")],
    "stats": [("band-stats", "full"), ("band-stats", "falsecolor")],
    "stats+centre": [("band-stats", "full"), ("band-stats", "falsecolor"), ("band-stats", "center2x"),
                     ("band-stats", "falsecolor-center2x")],
    "rgb+nir cnn+stats": [("efficientnet-lite0", "full"), ("efficientnet-lite0", "falsecolor"),
                          ("band-stats", "full"), ("band-stats", "falsecolor")],
    "cnn 4 views+stats+centre": CNN4 + STATS4,
    "rgb+nir cnn+stats+centre": [("efficientnet-lite0", "full"), ("efficientnet-lite0", "falsecolor"),
                                 ("band-stats", "full"), ("band-stats", "falsecolor"), ("band-stats", "center2x"),
                                 ("band-stats", "falsecolor-center2x")],
}


def cmd_parts(args):
    global PCA_K, CLASS_WEIGHTS
    PCA_K, CLASS_WEIGHTS = args.pca, args.class_weights
    labels = read_labels(TRAIN, RASTERS, CLASSES, log=lambda m: None)
    extra = read_labels(args.extra_train, RASTERS, CLASSES, log=lambda m: None) if args.extra_train else None
    if extra is not None: labels = pd.concat([labels, extra], ignore_index=True)
    rows = []
    for context in args.contexts:
        for name in args.sets:
            X = features(labels, context, PART_SETS[name], "train")
            r = {"context_m": context, "features": name, "dim": X.shape[1], "network_pca": PCA_K,
                 "class_weights": CLASS_WEIGHTS, "extra_train": str(args.extra_train or ""),
                 **block_cv(X, labels, train_only=[] if extra is None else extra.tile_id)}
            print(json.dumps(r), flush=True); rows.append(r)
    out = CACHE / "parts.jsonl"
    with open(out, "a") as f:
        for r in rows: f.write(json.dumps(r) + "\n")


def judging_labels() -> pd.DataFrame:
    judge = pd.read_csv(JUDGE)
    return read_labels(JUDGE, RASTERS, CLASSES, log=lambda m: None).assign(
        stratum=judge.stratum.to_numpy(), stratum_units=judge.stratum_units.to_numpy())


def judging_scores(pred: np.ndarray, judged_rows: pd.DataFrame) -> dict:
    """Stehman's stratified estimates of predictions `pred` of the judging sample's rows `judged_rows` (labels with
    stratum and stratum_units, `judging_labels`), over all ten years' judging cells."""
    from aerial_nb.accuracy import assess
    units = judged_rows.groupby("stratum").stratum_units.first().to_dict()
    r = assess(pred, judged_rows.label.to_numpy(), judged_rows.stratum.to_numpy(), units, classes=CLASSES[:3])
    fmt = lambda e: None if e.value is None else round(e.value, 3)
    return {"n_judged": len(judged_rows), "overall": fmt(r["overall"]),
            "overall_ci95": [round(v, 3) for v in r["overall"].ci95],
            "users": {k: fmt(v) for k, v in r["users"].items()},
            "producers": {k: fmt(v) for k, v in r["producers"].items()}}


def judged_frames(Xtr: pd.DataFrame, ytr: np.ndarray, Xj: pd.DataFrame, judge: pd.DataFrame) -> dict:
    "`fit_predict` on training features `Xtr`, labels `ytr`; judged on the judging rows of `Xj` (`judging_scores`)."
    return {"n_train": len(ytr), **judging_scores(fit_predict(Xtr, ytr, Xj), judge.set_index("tile_id").loc[Xj.index])}


def judged(parts, context, train_idx=None, extra=None) -> dict:
    """Train on the training squares (all, or those of `train_idx`; with `extra` = (X, y) rows added), judge on the
    judging sample (`judged_frames`)."""
    train, judge = read_labels(TRAIN, RASTERS, CLASSES, log=lambda m: None), judging_labels()
    Xtr, Xj = features(train, context, parts, "train"), features(judge, context, parts, "judge")
    ytr = train.set_index("tile_id").loc[Xtr.index].label.to_numpy()
    if train_idx is not None: Xtr, ytr = Xtr.iloc[train_idx], ytr[train_idx]
    if extra is not None:
        Xtr = pd.concat([Xtr, pd.DataFrame(extra[0], columns=Xtr.columns)]); ytr = np.concatenate([ytr, extra[1]])
    return judged_frames(Xtr, ytr, Xj, judge)


def cmd_judge(args):
    global PCA_K, CLASS_WEIGHTS
    PCA_K, CLASS_WEIGHTS = args.pca, args.class_weights
    for context in args.contexts:
        for name in args.sets:
            r = {"context_m": context, "features": name, "network_pca": PCA_K, "class_weights": CLASS_WEIGHTS,
                 **judged(PART_SETS[name], context)}
            print(json.dumps(r), flush=True)
            with open(CACHE / "judge.jsonl", "a") as f: f.write(json.dumps(r) + "\n")


def eurosat_features(n_per_class: int = 120) -> tuple[np.ndarray, np.ndarray]:
    "Lite0 features of EuroSAT images (landcover5 classes), `n_per_class` per EuroSAT class, by the image path's code."
    from aerial_nb.featurize import ort_session, preprocess
    from aerial_nb.label_map import load_label_map
    f = CACHE / f"eurosat_{n_per_class}.npz"
    if f.exists():
        z = np.load(f, allow_pickle=True); return z["X"], z["y"]
    lm, rng, paths, ys = load_label_map("landcover5"), np.random.default_rng(42), [], []
    for d in sorted((REPO / "data" / "eurosat").iterdir()):
        files = sorted(d.glob("*.jpg"))
        for p in rng.choice(files, size=min(n_per_class, len(files)), replace=False): paths.append(p); ys.append(lm[d.name])
    m = ensure_model("efficientnet-lite0", STORE)
    sess = ort_session(m["onnx_file"], 2)
    X = np.concatenate([sess.run([m["feature_tensor"]], {m["image_tensor"]: np.stack(
        [preprocess(p.read_bytes(), m) for p in paths[i:i + 32]])})[0].reshape(-1, 1280) for i in range(0, len(paths), 32)])
    np.savez(f, X=X, y=np.array(ys, dtype=object))
    return X, np.array(ys, dtype=object)


def cmd_curve(args):
    # squares whose context fits on their raster (the others are left out of training, as in a run)
    n_all = len(features(read_labels(TRAIN, RASTERS, CLASSES, log=lambda m: None), args.context, PART_SETS["rgb cnn"],
                         "train"))
    sizes = [n for n in args.sizes if n < n_all] + [n_all]
    global PCA_K, CLASS_WEIGHTS
    CLASS_WEIGHTS = args.class_weights
    arms = {"local, the default's features": (PART_SETS[args.nir_set], None, args.pca),
            "local, rgb cnn": (PART_SETS["rgb cnn"], None, 0),
            "local + EuroSAT, rgb cnn": (PART_SETS["rgb cnn"], eurosat_features(), 0)}
    for arm, (parts, extra, k) in arms.items():
        PCA_K = k
        for n in ([0] if extra is not None else []) + sizes:
            accs = []
            for draw in range(1 if n in (0, n_all) else args.draws):
                idx = np.random.default_rng([7, n, draw]).permutation(n_all)[:n]
                accs.append(judged(parts, args.context, idx, extra))
            r = {"arm": arm, "n_local": n, "context_m": args.context, "class_weights": CLASS_WEIGHTS,
                 "overall": round(float(np.mean([a["overall"] for a in accs])), 3),
                 "overall_sd": round(float(np.std([a["overall"] for a in accs])), 3), "draws": len(accs),
                 "users": accs[0]["users"], "producers": accs[0]["producers"]}
            print(json.dumps(r), flush=True)
            with open(CACHE / "curve.jsonl", "a") as f: f.write(json.dumps(r) + "\n")


def every_year(labels: pd.DataFrame) -> pd.DataFrame:
    "Each labeled square's ground in every year there is a raster of: `<tile_id>@<year>` rows, unlabeled."
    rasters = sorted(RASTERS.glob("*.tif"))
    years = {int(p.stem.rsplit("_", 1)[1][:4]): p for p in rasters}
    rows = [dict(tile_id=f"{r.tile_id}@{y}", square=r.tile_id, year=y, source_path=str(p), center_x=r.center_x,
                 center_y=r.center_y) for r in labels.itertuples() for y, p in sorted(years.items())]
    return pd.DataFrame(rows)


def fit_proba(Xtr, ytr, Xte) -> tuple[np.ndarray, np.ndarray]:
    "`fit_predict`'s model, returning (its classes, the class probabilities of `Xte`)."
    global _PROBA
    _PROBA = True
    try: return fit_predict(Xtr, ytr, Xte)
    finally: _PROBA = False


def temporal_rules(classes: np.ndarray, P: np.ndarray, year_of: np.ndarray, square_of: np.ndarray) -> dict:
    """Each rule's label for every (square, year) row of probabilities `P`. `none`: the year's own argmax. `landuse`:
    water stays a year's own call (ponds fill and dry), but a cell that is not water that year takes the land-use
    class (all but water) with the highest mean probability over the cell's years that are not water. `mean`: the
    argmax of the mean over all years, water included, for comparison."""
    own = classes[P.argmax(1)]
    df = pd.DataFrame(P, columns=classes).assign(square=square_of, own=own)
    land = [c for c in classes if c != "water"]
    notwater = df[df.own != "water"]
    land_mean = notwater.groupby("square")[land].mean()
    landuse = np.array([o if o == "water" else land_mean.loc[s].idxmax() for o, s in zip(own, square_of)], object)
    all_mean = df.groupby("square")[list(classes)].mean()
    mean = all_mean.loc[square_of].to_numpy().argmax(1)
    return {"none": own, "landuse": landuse, "mean": classes[mean]}


def cmd_temporal(args):
    """Leave-one-block-out: train on the labeled squares of the other blocks, predict the held-out block's squares in
    all ten years, then label each (square, year) by each rule of `temporal_rules`; judged on the labeled years."""
    global PCA_K, CLASS_WEIGHTS
    PCA_K, CLASS_WEIGHTS = args.pca, args.class_weights
    labels = read_labels(TRAIN, RASTERS, CLASSES, log=lambda m: None)
    for extra in args.extra_train:
        labels = pd.concat([labels, read_labels(extra, RASTERS, CLASSES, log=lambda m: None)], ignore_index=True)
    parts = PART_SETS[args.set]
    X = features(labels, args.context, parts, "train")
    allyears = every_year(labels.set_index("tile_id").loc[X.index].rename_axis("tile_id").reset_index())
    XA = features(allyears, args.context, parts, "temporal")
    allyears = allyears.set_index("tile_id").loc[XA.index]
    lab = labels.set_index("tile_id").loc[X.index]
    blocks = Blocks.load(BLOCKS)
    group = np.array([str(blocks.block_of(x, y)) for x, y in zip(lab.center_x, lab.center_y)])
    group_all = np.array([str(blocks.block_of(x, y)) for x, y in zip(allyears.center_x, allyears.center_y)])
    y = lab.label.to_numpy()
    if args.temporal_features != "none":   # each square's features over its years, beside the year's own
        cols = [c for c in XA.columns if args.temporal_features == "all" or c.startswith("band-stats")]
        by = XA[cols].groupby(allyears.square.to_numpy())
        # "model:view~mean:i": a part of its own, so that network_pca reduces the network's means and sds apart
        named = lambda df, stat: df.set_axis([f"{c.rsplit(':', 1)[0]}~{stat}:{c.rsplit(':', 1)[1]}" for c in df.columns],
                                             axis=1)
        agg = pd.concat([named(by.mean(), "mean"), named(by.std(), "sd")], axis=1)
        X = pd.concat([X, agg.loc[X.index].set_axis(X.index)], axis=1)
        XA = pd.concat([XA, agg.loc[allyears.square].set_axis(XA.index)], axis=1)
    preds = {}
    for g in sorted(set(group)):
        te = group_all == g
        classes, P = fit_proba(X[group != g], y[group != g], XA[te])
        rules = temporal_rules(np.asarray(classes, object), P, allyears.year.to_numpy()[te],
                               allyears.square.to_numpy()[te])
        for rule, lbl in rules.items():
            preds.setdefault(rule, {}).update(dict(zip(XA.index[te], lbl)))
    key = [f"{t}@{yr}" for t, yr in zip(lab.index, lab.year)]
    rnd = (lab.selection == "random").to_numpy()
    for rule, p in preds.items():
        pred = np.array([p.get(k) for k in key], object)
        for name, m in (("all", np.ones(len(y), bool)), ("random", rnd)):
            r = {"rule": rule, "temporal_features": args.temporal_features, "squares": name, "n": int(m.sum()), "set": args.set, "context_m": args.context,
                 "network_pca": PCA_K, "extra_train": [str(e) for e in args.extra_train],
                 "accuracy": round(float((pred[m] == y[m]).mean()), 3),
                 "recall": {c: round(float((pred[m & (y == c)] == c).mean()), 3) for c in CLASSES if (m & (y == c)).any()},
                 "precision": {c: round(float((y[m & (pred == c)] == c).mean()), 3) for c in CLASSES
                               if (m & (pred == c)).any()}}
            print(json.dumps(r), flush=True)
            with open(CACHE / "temporal.jsonl", "a") as f: f.write(json.dumps(r) + "\n")


def wide_context(labels: pd.DataFrame, context_m: float, name: str) -> pd.DataFrame:
    "The RGB and false-colour network and band statistics of a wider square, as parts of their own (`w640-...`)."
    parts = [("efficientnet-lite0", "full"), ("efficientnet-lite0", "falsecolor"), ("band-stats", "full"),
             ("band-stats", "falsecolor")]
    X = features(labels, context_m, parts, name)
    tag = f"w{int(context_m)}"
    return X.set_axis([c.replace("efficientnet-lite0:", f"{tag}-lite0:").replace("band-stats:", f"band-stats-{tag}:")
                       for c in X.columns], axis=1)


def texture(band: np.ndarray) -> list[float]:
    """What the eye reads as field or pasture, in numbers: at 5 and 10 m, the log gradient energy, the structure
    tensor's coherence over the square (one dominant direction: swaths, rows, field edges) and its axis alignment,
    the mean local coherence (5 px windows); the log local spread (3 and 7 px) absolute and relative to the mean."""
    from scipy.ndimage import sobel, uniform_filter
    out = []
    for b in (band, band[:len(band) // 2 * 2, :band.shape[1] // 2 * 2].reshape(
            len(band) // 2, 2, band.shape[1] // 2, 2).mean((1, 3))):
        gx, gy = sobel(b, 1), sobel(b, 0)
        jxx, jyy, jxy = gx * gx, gy * gy, gx * gy
        e = jxx.mean() + jyy.mean() + 1e-6
        out += [np.log(e), np.hypot(jxx.mean() - jyy.mean(), 2 * jxy.mean()) / e, (jxx.mean() - jyy.mean()) / e]
        lxx, lyy, lxy = (uniform_filter(v, 5) for v in (jxx, jyy, jxy))
        out.append(float((np.hypot(lxx - lyy, 2 * lxy) / (lxx + lyy + 1e-6)).mean()))
    for k in (3, 7):
        mu = uniform_filter(band, k)
        sd = np.sqrt(np.maximum(uniform_filter(band * band, k) - mu * mu, 0)).mean()
        out += [np.log(sd + 1e-3), sd / (abs(band.mean()) + 1e-3)]
    return out + [np.log(band.std() + 1e-3)]


def window_pixels(labels: pd.DataFrame, context_m: float, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Each square's `context_m` window of its raster, all bands at NAIP's own 5 m (uint8 [N, bands, px, px]), and the
    squares' ids (those of `windows`); cached."""
    import rasterio
    from rasterio.windows import Window
    f = CACHE / f"pixels-{name}-{len(labels)}_{int(context_m)}.npz"
    if f.exists():
        z = np.load(f, allow_pickle=True); return z["X"], z["ids"]
    X, ids = [], []
    for source, g in windows(labels, context_m).groupby("source_path"):
        with rasterio.open(source) as src:
            for r in g.itertuples():
                X.append(src.read(window=Window(r.col_off, r.row_off, r.win_width, r.win_height))); ids.append(r.filename)
    X, ids = np.stack(X), np.array(ids)
    f.parent.mkdir(parents=True, exist_ok=True); np.savez(f, X=X, ids=ids)
    return X, ids


def texture_features(labels: pd.DataFrame, context_m: float, name: str) -> pd.DataFrame:
    """`texture` of the red band, the NIR band and NDVI over each square's context and its centre half, read at NAIP's
    own 5 m (not through a network's resize); named `band-stats-texture:i` so that network_pca leaves them whole."""
    X, ids = window_pixels(labels, context_m, name)
    c = slice(X.shape[2] // 4, X.shape[2] - X.shape[2] // 4)   # the centre half: the map cell
    rows = []
    for d in X.astype(np.float32):
        red, nir = d[0], d[3]
        rows.append([v for a in (red, nir, (nir - red) / (nir + red + 1e-6)) for v in texture(a) + texture(a[c, c])])
    return pd.DataFrame(rows, index=ids, columns=[f"band-stats-texture:{i}" for i in range(len(rows[0]))])


def standardise_each_year(frames: list[tuple[pd.DataFrame, pd.DataFrame]]) -> list[pd.DataFrame]:
    """Each year's features centred and scaled by that year's squares of all `frames` ((features, labels) pairs): a
    per-acquisition normalisation that uses no label, only which raster a square was cut from."""
    years = [lab.set_index("tile_id").loc[X.index].year.to_numpy() for X, lab in frames]
    both = pd.concat([X for X, _ in frames]); year = np.concatenate(years)
    stats = {y: (both[year == y].mean(), both[year == y].std() + 1e-9) for y in np.unique(year)}
    out = []
    for (X, _), yr in zip(frames, years):
        Z = X.copy()
        for y in np.unique(yr): Z.loc[yr == y] = (X.loc[yr == y] - stats[y][0]) / stats[y][1]
        out.append(Z)
    return out


def cmd_models(args):
    """The default's features (or more) under other classifiers: leave-one-block-out CV on the training squares and
    the judging sample, each line beside the same classifier on the default's features over the same squares."""
    global PCA_K, CLASSIFIER
    PCA_K = args.pca
    train, judge = read_labels(TRAIN, RASTERS, CLASSES, log=lambda m: None), judging_labels()
    Xtr = base_tr = features(train, args.context, PART_SETS[args.set], "train")
    Xj = base_j = features(judge, args.context, PART_SETS[args.set], "judge")
    if args.wide_context:   # squares whose wider square leaves the raster drop out: the baseline drops them too
        Xtr = Xtr.join(wide_context(train, args.wide_context, "train"), how="inner")
        Xj = Xj.join(wide_context(judge, args.wide_context, "judge"), how="inner")
    if args.texture:
        Xtr = Xtr.join(texture_features(train, args.context, "train"), how="inner")
        Xj = Xj.join(texture_features(judge, args.context, "judge"), how="inner")
    if args.year_norm:
        Xtr, Xj = standardise_each_year([(Xtr, train), (Xj, judge)])
    ytr = train.set_index("tile_id").loc[Xtr.index].label.to_numpy()
    for name in args.classifiers:
        CLASSIFIER = name
        r = {"classifier": name, "set": args.set, "context_m": args.context, "wide_context_m": args.wide_context,
             "year_norm": args.year_norm, "texture": args.texture, "network_pca": PCA_K, "n_train": len(Xtr),
             "n_judged": len(Xj)}
        for tag, (A, B) in {"": (Xtr, Xj), "default_": (base_tr.loc[Xtr.index], base_j.loc[Xj.index])}.items():
            if tag and not (args.wide_context or args.texture or args.year_norm): continue   # the same as above
            cv, jd = block_cv(A, train), judged_frames(A, ytr, B, judge)
            r |= {f"{tag}cv_random": cv["random"]["accuracy"], f"{tag}cv_random_recall": cv["random"]["recall"],
                  f"{tag}cv_random_precision": cv["random"]["precision"], f"{tag}judged": jd["overall"],
                  f"{tag}judged_users": jd["users"], f"{tag}judged_producers": jd["producers"]}
        print(json.dumps(r), flush=True)
        with open(CACHE / "models.jsonl", "a") as f: f.write(json.dumps(r) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("parts"); p.add_argument("--contexts", type=float, nargs="+", default=[160, 320])
    p.add_argument("--sets", nargs="+", default=list(PART_SETS)); p.add_argument("--pca", type=int, default=0)
    p.add_argument("--extra-train", type=Path, help="more labeled squares that only train (never judged in the CV)")
    j = sub.add_parser("judge"); j.add_argument("--contexts", type=float, nargs="+", default=[320])
    j.add_argument("--sets", nargs="+", default=list(PART_SETS)); j.add_argument("--pca", type=int, default=0)
    c = sub.add_parser("curve"); c.add_argument("--context", type=float, default=320)
    c.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 400]); c.add_argument("--draws", type=int, default=3)
    c.add_argument("--nir-set", default="cnn 4 views+stats+centre"); c.add_argument("--pca", type=int, default=8)
    t = sub.add_parser("temporal"); t.add_argument("--context", type=float, default=320)
    t.add_argument("--set", default="cnn 4 views+stats+centre"); t.add_argument("--pca", type=int, default=8)
    t.add_argument("--temporal-features", choices=["none", "stats", "all"], default="none",
                   help="add each square's mean and sd over its years of the band statistics, or of every feature")
    t.add_argument("--extra-train", type=Path, nargs="*", default=[],
                   help="more labeled squares (they train and are judged, as the default's)")
    mo = sub.add_parser("models"); mo.add_argument("--context", type=float, default=320)
    mo.add_argument("--set", default="cnn 4 views+stats+centre"); mo.add_argument("--pca", type=int, default=8)
    mo.add_argument("--classifiers", nargs="+", default=["logistic", "logistic-weak-l2", "logistic-strong-l2",
                                                          "svm-rbf", "boosted-trees", "random-forest"])
    mo.add_argument("--wide-context", type=float, default=0,
                    help="add the network and band statistics of this wider square (m) as parts of their own")
    mo.add_argument("--year-norm", action="store_true", help="standardise each year's features by its own squares")
    mo.add_argument("--texture", action="store_true", help="add `texture_features` (field edges, swaths, mottling)")
    for a in (p, j, c, t, mo): a.add_argument("--class-weights", choices=["none", "balanced"], default="none")
    args = ap.parse_args()
    {"parts": cmd_parts, "judge": cmd_judge, "curve": cmd_curve, "temporal": cmd_temporal,
     "models": cmd_models}[args.cmd](args)


if __name__ == "__main__":
    main()
