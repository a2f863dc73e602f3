"""Where the onnxruntime backend's CPU goes (issue 29, item 2): per image, the network, decoding, resizing and
normalising in one process; then the whole backend on `local[*]`, with the CPU seconds of Spark's JVM and of its Python
workers during the run, beside the model alone on every core.

    python bench/ort_cpu_split.py [--images data/ucmerced] [--sizes 700,2100]

The bound it shows: on C cores the backend cannot beat C / (CPU ms of one image, all of it), whatever Spark does."""
import argparse, time
from pathlib import Path

import numpy as np
import psutil

from aerial_nb.bench import bench_model_only, bench_spark_backend
from aerial_nb.explore import find_images
from aerial_nb.featurize import decode_bgr, level_lut, ort_session, preprocess
from aerial_nb.models import ensure_model
from aerial_nb.recipe import resize_view
from aerial_nb.settings import load_settings
from aerial_nb.spark import get_spark


def per_image_ms(paths: list[str], model: dict) -> dict:
    "Milliseconds per image of each part of the work, one thread (OpenCV's too)."
    import cv2
    cv2.setNumThreads(1)
    data = [Path(p).read_bytes() for p in paths]
    def ms(f, xs):
        t0 = time.perf_counter(); out = [f(x) for x in xs]
        return 1000 * (time.perf_counter() - t0) / len(xs), out
    out = {}
    out["decode"], imgs = ms(decode_bgr, data)
    out["resize"], small = ms(lambda i: resize_view(i, model), imgs)
    lut = level_lut(model)
    def normalise(img):
        x = np.empty((3, *img.shape[:2]), np.float32)
        for c in range(3): np.take(lut[c], img[:, :, 2 - c], out=x[c])
        return x
    out["normalise"], _ = ms(normalise, small)
    out["preprocess (all three)"], xs = ms(lambda b: preprocess(b, model), data)
    sess = ort_session(model["onnx_file"], 1)
    run = lambda i: sess.run([model["feature_tensor"]], {model["image_tensor"]: np.stack(xs[i:i + 32])})
    run(0)
    t0 = time.perf_counter()
    for i in range(0, len(xs) - 31, 32): run(i)
    out["network (1 thread, batches of 32)"] = 1000 * (time.perf_counter() - t0) / (32 * (len(xs) // 32))
    return out


def cpu_seconds() -> dict:
    "CPU seconds so far of this process's children (Spark's JVM, its Python workers), by pid."
    out = {}
    for p in psutil.Process().children(recursive=True):
        try: t = p.cpu_times(); out[(p.pid, p.name())] = t.user + t.system
        except psutil.Error: pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", default="data/ucmerced")
    ap.add_argument("--sizes", default="700,2100")
    a = ap.parse_args()
    settings = load_settings()
    model = ensure_model("efficientnet-lite0", settings.path("paths", "model_store"))
    paths = sorted(find_images(a.images).path)
    for k, v in per_image_ms(paths[:700], model).items(): print(f"{k}: {v:.2f} ms an image")
    spark = get_spark(settings, app_name="bench ort cpu")
    bench_spark_backend(spark, paths, featurizer=model, settings=settings, backend="onnxruntime")   # warm workers
    for n in [int(s) for s in a.sizes.split(",")] * 2:
        before, t0 = cpu_seconds(), time.time()
        r = bench_spark_backend(spark, paths[:n], featurizer=model, settings=settings, backend="onnxruntime")
        wall, after = time.time() - t0, cpu_seconds()
        spent = {k: after[k] - before.get(k, 0.0) for k in after}
        jvm = sum(v for k, v in spent.items() if k[1] == "java")
        py = sum(v for k, v in spent.items() if k[1] != "java")
        print(f"{n} images: {r['images_per_second']} img/s, {wall:.1f} s; CPU: JVM {jvm:.1f} s, Python workers "
              f"{py:.1f} s ({1000 * py / n:.1f} ms an image), of {psutil.cpu_count() * wall:.1f} s the cores had")
    spark.stop()
    print(f"model alone: {bench_model_only(model)['images_per_second']} img/s")


if __name__ == "__main__":
    main()
