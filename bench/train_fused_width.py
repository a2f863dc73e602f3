"""Spark ML's logistic regression at the fused width (issue 29): EuroSAT's 27,000 EfficientNet-Lite0 vectors (1,280)
widened to 7,680 by themselves and five fixed random rotations (the width of three models over two views, without the hours of
featurizing them), one fit on the 80% split per `tol`, beside scikit-learn at its own default tolerance.

    python bench/train_fused_width.py [--tols 1e-6,1e-4] [--sizes 27000] [--sklearn] [--cv 5]

Needs the Lite0 features of data/eurosat in the cache (`aerial-nb bench --train-only` computes them). Prints one line
per fit (seconds, L-BFGS iterations, test accuracy) and the BLAS Spark used; the widened features are written once
under outputs/bench/fused_width/."""
import argparse, time
from pathlib import Path

import numpy as np
import pandas as pd

from aerial_nb.bench import best_sklearn_fit, stratified_sample
from aerial_nb.explore import find_images
from aerial_nb.featurize import featurize_step, read_features
from aerial_nb.recipe import Featurizer
from aerial_nb.settings import load_settings
from aerial_nb.spark import blas_report, get_spark
from aerial_nb.train import CLASSIFIERS, TrainOptions, cross_validate, fit_and_evaluate

WIDTH_FACTOR = 6   # 6 x 1,280 = 7,680: EfficientNet-Lite0+1+2 over two views


def widened_features(spark, settings, images: Path) -> tuple[str, pd.DataFrame]:
    "The Lite0 features of `images` widened to 7,680 columns (written once), and the manifest."
    manifest = find_images(images)
    out = settings.path("paths", "outputs_dir") / "bench" / "fused_width" / "features.parquet"
    if not out.exists():
        lite0 = Featurizer.from_params("efficientnet-lite0", settings.path("paths", "model_store"), backend="onnxruntime")
        info = featurize_step(spark, manifest, featurizer=lite0, settings=settings)
        feats = read_features(info["path"])
        x = np.stack(feats.features.to_numpy())
        rng = np.random.default_rng(0)
        # Each block a fixed orthogonal rotation of the same vector: as wide, and as redundant, as fused models are.
        rots = [np.linalg.qr(rng.normal(size=(x.shape[1], x.shape[1])))[0].astype(np.float32)
                for _ in range(WIDTH_FACTOR - 1)]
        wide = np.concatenate([x] + [x @ r for r in rots], axis=1)
        out.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"path": feats.index, "features": list(wide)}).to_parquet(out)
    return str(out), manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tols", default="1e-6,1e-4")
    ap.add_argument("--sizes", default="27000", help="images per fit (80% of them train)")
    ap.add_argument("--sklearn", action="store_true", help="scikit-learn on the same features too")
    ap.add_argument("--cv", type=int, default=0, help="also time k-fold CV and the fit, as a train step with cv_folds")
    a = ap.parse_args()
    settings = load_settings()
    spark = get_spark(settings, app_name="bench fused width")
    path, manifest = widened_features(spark, settings, settings.root / "data" / "eurosat")
    print(f"BLAS: {blas_report(spark)['used']}")
    # Spark reads a vector column: convert the arrays once, in Spark.
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F
    vec = str(Path(path).with_name("features_vec.parquet"))
    if not Path(vec).exists():
        spark.read.parquet(path).select("path", array_to_vector(F.col("features")).alias("features")).write.parquet(vec)
    feats = read_features(path) if a.sklearn else None
    for n in [int(s) for s in a.sizes.split(",")]:
        sample = stratified_sample(manifest, n)
        for tol in [float(t) for t in a.tols.split(",")]:
            t0 = time.perf_counter()
            model, m, _ = fit_and_evaluate(spark, vec, manifest=sample,
                                           options=TrainOptions(classifier_params={"tol": tol}))
            iters = model.stages[-2].summary.totalIterations
            print(f"{len(sample)} images, {m['n_train']} train, Spark tol {tol:g}: fit {m['fit_seconds']:.1f} s, "
                  f"{iters} iterations, accuracy {m['accuracy']:.4f} ({time.perf_counter() - t0:.0f} s in all)",
                  flush=True)
        if a.sklearn:
            sk = best_sklearn_fit(feats, sample, CLASSIFIERS["logistic_regression"]["regParam"])
            print(f"{len(sample)} images, scikit-learn ({sk['threads']} BLAS threads): fit {sk['seconds']:.1f} s, "
                  f"{sk['iterations']} iterations, accuracy {sk['accuracy']:.4f}", flush=True)
        if a.cv:   # what 03_train does with cv_folds: k fits on (k-1)/k of the images, then one on the 80% split
            t0 = time.perf_counter()
            cv = cross_validate(spark, vec, manifest=sample, options=TrainOptions(cv_folds=a.cv))
            fit_and_evaluate(spark, vec, manifest=sample, options=TrainOptions())
            print(f"{len(sample)} images, {a.cv}-fold CV and the fit: {time.perf_counter() - t0:.0f} s, CV accuracy "
                  f"{cv['mean']:.4f} ± {cv['std']:.4f}", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
