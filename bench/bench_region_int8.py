"""Benchmark (not a test): fp32 vs static int8 EfficientNet-Lite0 on NAIP tiles: img/s on 1 thread, feature cosine and
agreement of the logistic regression's top-1 predictions, for several quantisation recipes.

    python bench/bench_region_int8.py TILES_DIR MODEL_DIR

TILES_DIR is a window tile set (`aerial-nb tile data/naip_nd --out outputs/region/naip_50m --stride-m 50 --no-images`),
MODEL_DIR a Lite0 + logistic regression model folder under outputs/models. Why several recipes: on AVX2 without VNNI,
onnxruntime's u8s8 kernels use VPMADDUBSW, whose int16 sums can saturate; `reduce_range` (7-bit weights) or u8u8
kernels avoid that at some cost in speed."""
import sys, time
from pathlib import Path

import numpy as np, onnxruntime as ort, pandas as pd
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

ROOT = Path(__file__).resolve().parents[1]
from aerial_nb.models import ensure_model
from aerial_nb.region import _source, preprocess_rgb, worker_head, apply_head
from aerial_nb.tiles import read_tile_rgb, parse_bands

tiles_dir, model_dir = sys.argv[1], sys.argv[2]
m = ensure_model("efficientnet-lite0", str(ROOT / "outputs/model_store"))
tiles = pd.read_csv(Path(tiles_dir) / "tiles.csv")
rng = np.random.default_rng(0)
pick = rng.permutation(len(tiles))
calib, test = tiles.iloc[pick[:256]], tiles.iloc[pick[256:256 + 512]]
def x_of(df):
    return np.stack([preprocess_rgb(read_tile_rgb(_source(r.source_path), r.row_off, col_off=r.col_off, win_width=r.win_width, win_height=r.win_height,
                                                  tile_px=int(r.tile_px), bands=parse_bands(r.bands)), m) for r in df.itertuples()])
Xc, Xt = x_of(calib), x_of(test)
class Reader(CalibrationDataReader):
    def __init__(s, n): s.it = iter([{m["image_tensor"]: Xc[i:i + 16]} for i in range(0, n, 16)])
    def get_next(s): return next(s.it, None)

from pyspark.sql import SparkSession
from aerial_nb.train import load_model
spark = SparkSession.builder.master("local[1]").getOrCreate()
head = worker_head(load_model(model_dir)[0]); spark.stop()

pre = "/tmp/bench_int8_pre.onnx"
quant_pre_process(m["onnx_file"], pre)
recipes = {
    "u8s8 (64 calib)": dict(n=64, weight_type=QuantType.QInt8, reduce_range=False),
    "u8s8 reduce_range": dict(n=256, weight_type=QuantType.QInt8, reduce_range=True),
    "u8u8": dict(n=256, weight_type=QuantType.QUInt8, reduce_range=False),
}
def sess(f):
    o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
    return ort.InferenceSession(f, o, providers=["CPUExecutionProvider"])
def run(f, bs=32):
    s = sess(f); s.run([m["feature_tensor"]], {m["image_tensor"]: Xt[:bs]})
    t0 = time.time()
    F = np.concatenate([s.run([m["feature_tensor"]], {m["image_tensor"]: Xt[i:i + bs]})[0].reshape(-1, 1280) for i in range(0, len(Xt), bs)])
    return F, len(Xt) / (time.time() - t0)
F32, v32 = run(m["onnx_file"])
p32 = apply_head(F32, head)[0]
print(f"fp32: {v32:.1f} img/s on 1 thread (batch 32), {len(Xt)} NAIP tiles")
for bs in (1, 8):
    print(f"fp32 batch {bs}: {run(m['onnx_file'], bs)[1]:.1f} img/s")
for name, r in recipes.items():
    out = f"/tmp/bench_int8_{abs(hash(name))}.onnx"
    quantize_static(pre, out, Reader(r["n"]), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                    weight_type=r["weight_type"], per_channel=True, reduce_range=r["reduce_range"])
    F8, v8 = run(out)
    cos = (F32 * F8).sum(1) / np.linalg.norm(F32, axis=1) / np.linalg.norm(F8, axis=1)
    agree = np.mean(apply_head(F8, head)[0] == p32)
    print(f"{name:<20} {v8:6.1f} img/s ({v8 / v32:.2f}x fp32)  cosine median {np.median(cos):.4f} min {cos.min():.4f}  "
          f"top-1 agreement {agree:.3f}")
