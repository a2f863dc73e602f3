"""Featurize, train and score a small labeled image set on the Spark master of the settings ($AERIAL_NB_SPARK_MASTER).

Run by tests/test_cluster.py once per master: `python tests/cluster_job.py IMAGES OUTPUTS`. Features by both backends (each ships
the model its own way), a classifier trained on SynapseML's, a synthetic GeoTIFF scored by the region scorer. Writes
OUTPUTS/job.json with where the features are, the metrics and the predictions, so the test can compare masters.
"""
import json
import sys
from pathlib import Path

from aerial_nb.explore import explore_step
from aerial_nb.featurize import featurize_step
from aerial_nb.recipe import Featurizer
from aerial_nb.region import ScoreOptions
from aerial_nb.scale import image_set_scale
from aerial_nb.score import score_rasters
from aerial_nb.settings import load_settings
from aerial_nb.spark import get_spark
from aerial_nb.testing import make_fixture_geotiff
from aerial_nb.train import TrainingImages, TrainOptions, train_step

images, outputs = sys.argv[1], Path(sys.argv[2])
settings = load_settings(overrides={"paths": {"outputs_dir": str(outputs)}})
spark = get_spark(settings, app_name="aerial_nb-cluster-test")
run_dir = outputs / "runs" / "job"
manifest = explore_step(images, run_dir, test_frac=0.3)
featurizer = Featurizer.from_params("efficientnet-lite0", settings.path("paths", "model_store"))
feats = {b: featurize_step(spark, manifest, featurizer=featurizer.using(backend=b), settings=settings, run_dir=run_dir)
         for b in ("synapseml", "onnxruntime")}
# The images stand for 5 m per pixel, so that the model can score a synthetic 5 m GeoTIFF at its own scale.
metrics = train_step(spark, run_dir, manifest=manifest, features=feats["synapseml"], featurizer=featurizer.using(backend="synapseml"),
                     settings=settings, options=TrainOptions("logistic_regression", {}, output_model_name="job", overwrite_model=True),
                     images=TrainingImages(scale=image_set_scale(manifest, 5.0)))
raster = make_fixture_geotiff(outputs / "rasters" / "m_4709963_se_14_1_20200831.tif", width=600, height=400)
scored = score_rasters(spark, [raster], model_dir=metrics["model_path"], settings=settings, out_dir=run_dir, options=ScoreOptions(chunk_size=8))
(outputs / "job.json").write_text(json.dumps({
    "master": spark.sparkContext.master, "executors": spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size(),
    "features": {b: f["path"] for b, f in feats.items()}, "metrics": metrics, "predictions": str(run_dir / "predictions" / "predictions.parquet"),
    "n_scored": scored["n_predictions"]}, default=str))
spark.stop()
