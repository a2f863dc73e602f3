"""Both featurizer backends (SynapseML in the JVM, Python onnxruntime) and PyTorch give the same features on real images.

50 UC Merced images (every 42nd file of the sorted set) go through `featurize_images` with each backend on a local
Spark session, and through the PyTorch network the ONNX file was exported from, fed the tensors of `preprocess`.
Any wrong channel order, normalization or resize would pull the cosine similarities far below 1.
The synapseml backend's flat path (UnrollImage + a wrapped ONNX graph) must give SynapseML's own `ImageFeaturizer`'s
features, its reference, to a cosine of at least 0.999999 on every image.
"""
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
from helpers import UCMERCED   # honours $AERIAL_NB_TEST_DATA
MODEL = "efficientnet-lite0"

# Slow tier (Spark with SynapseML on real images): left out of `make test-fast`, run by `make test`.
pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def images() -> list[str]:
    if not UCMERCED.is_dir():
        pytest.skip(f"real data {UCMERCED} is absent: it holds UC Merced Land Use, one folder of .jpg per class")
    paths = sorted(str(p) for p in UCMERCED.glob("*/*.jpg"))[::42]
    if len(paths) < 50:
        pytest.skip(f"{UCMERCED} holds only {len(paths) * 42} or fewer images; this test needs the full set of 2100")
    return paths[:50]


@pytest.fixture(scope="module")
def spark_and_model():
    from aerial_nb.settings import load_settings
    from aerial_nb.spark import get_spark
    from aerial_nb.models import ensure_model
    settings = load_settings(ROOT / "settings.ini")
    spark = get_spark(settings, app_name="test_backends_agree")
    model = ensure_model(MODEL, settings.path("paths", "model_store"))
    yield spark, model, settings
    spark.stop()


def spark_features(spark, paths, model, settings, backend) -> np.ndarray:
    "Features of `paths` by `backend`, rows in the order of `paths`."
    from pyspark.ml.functions import vector_to_array
    from aerial_nb.featurize import featurize_images
    df = (featurize_images(spark, paths, featurizer=model, settings=settings, backend=backend)
          .select("path", vector_to_array("features").alias("f")).toPandas().set_index("path"))
    missing = sorted(set(paths) - set(df.index))
    assert not missing, f"{backend} featurized {len(df)} of {len(paths)} images; missing: {missing}"
    assert len(df) == len(paths), f"{backend} returned {len(df)} rows for {len(paths)} images"
    return np.stack(df.loc[paths, "f"].to_numpy()).astype(np.float64)


def image_featurizer_features(spark, paths, model) -> np.ndarray:
    "Features of `paths` by SynapseML's `ImageFeaturizer` (the reference of the flat path), rows in the order of `paths`."
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F
    from aerial_nb.featurize import LOCAL_URI_PREFIX, make_image_featurizer
    raw = spark.read.format("binaryFile").load(paths).select("path", "content")
    df = (make_image_featurizer(model).transform(raw)
          .select(F.regexp_replace("path", LOCAL_URI_PREFIX, "").alias("path"), vector_to_array("features").alias("f"))
          .toPandas().set_index("path"))
    assert len(df) == len(paths), f"ImageFeaturizer returned {len(df)} rows for {len(paths)} images"
    return np.stack(df.loc[paths, "f"].to_numpy()).astype(np.float64)


def torch_features(paths, model) -> np.ndarray:
    "Features of `paths` by the PyTorch network behind the ONNX export, on `preprocess`'s tensors."
    torch = pytest.importorskip("torch")
    from aerial_nb.featurize import preprocess
    from aerial_nb.models import build_network, headless, model_spec
    try: net = headless(build_network(model_spec(MODEL)))
    except ImportError as e: pytest.skip(f"PyTorch weights of {MODEL} unavailable: {e}")
    x = torch.from_numpy(np.stack([preprocess(Path(p).read_bytes(), model) for p in paths]))
    with torch.no_grad(): out = torch.cat([net(x[i:i + 10]) for i in range(0, len(x), 10)])
    return out.reshape(len(paths), -1).numpy().astype(np.float64)


def test_backends_agree(images, spark_and_model):
    from aerial_nb.featurize import cosine_rows
    spark, model, settings = spark_and_model
    feats = {b: spark_features(spark, images, model, settings, b) for b in ("synapseml", "onnxruntime")}
    feats["ImageFeaturizer"] = image_featurizer_features(spark, images, model)
    feats["torch"] = torch_features(images, model)
    for f in feats.values(): assert f.shape == (len(images), model["feature_dim"])
    failures = []
    c = cosine_rows(feats["synapseml"], feats["ImageFeaturizer"])
    print(f"cosine(synapseml flat path, ImageFeaturizer) over {len(c)} UC Merced images: min {c.min():.9f}, "
          f"max |diff| {np.abs(feats['synapseml'] - feats['ImageFeaturizer']).max():.2e}")
    if c.min() < 0.999999: failures.append(f"synapseml flat path vs ImageFeaturizer: min cosine {c.min():.9f} < 0.999999 "
                                          f"({Path(images[int(c.argmin())]).name})")
    for a, b in [("synapseml", "onnxruntime"), ("synapseml", "torch"), ("onnxruntime", "torch")]:
        c = cosine_rows(feats[a], feats[b])
        worst = Path(images[int(c.argmin())])
        print(f"cosine({a}, {b}) over {len(c)} UC Merced images: median {np.median(c):.8f}, "
              f"min {c.min():.8f} ({worst.parent.name}/{worst.name}); max |diff| {np.abs(feats[a] - feats[b]).max():.2e}")
        if np.median(c) < 0.999: failures.append(f"{a} vs {b}: median cosine {np.median(c):.6f} < 0.999")
        # The median alone would let half the images differ: no image may be far off either.
        if np.min(c) < 0.99: failures.append(f"{a} vs {b}: min cosine {np.min(c):.6f} < 0.99")
    assert not failures, "; ".join(failures)
