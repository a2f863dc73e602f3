"""Benchmark (not a test): fp32 vs static int8 EfficientNet-Lite0 on NAIP tiles: img/s on 1 thread and agreement of the LR predictions.
Needs outputs/region/naip_50m (aerial-nb tile data/naip_nd --out outputs/region/naip_50m --stride-m 50 --no-images) and outputs/models/ucm-lite0-lr."""
import glob, json, time, sys
import numpy as np, pandas as pd, onnxruntime as ort, rasterio
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
from aerial_nb.models import ensure_model
from aerial_nb.region import preprocess_rgb
from aerial_nb.tiles import read_tile_rgb
from onnxruntime.quantization import quantize_static, CalibrationDataReader, QuantFormat, QuantType
from onnxruntime.quantization.shape_inference import quant_pre_process

m = ensure_model("efficientnet-lite0", str(ROOT / "outputs/model_store"))
tiles = pd.read_csv(str(ROOT / "outputs/region/naip_50m/tiles.csv"))
rng = np.random.default_rng(0)
calib = tiles.iloc[rng.choice(len(tiles), 64, replace=False)]
test = tiles.iloc[rng.choice(len(tiles), 512, replace=False)]
srcs = {}
def x_of(df):
    xs = []
    for r in df.itertuples():
        s = srcs.setdefault(r.source_path, rasterio.open(r.source_path))
        xs.append(preprocess_rgb(read_tile_rgb(s, r.row_off, r.col_off, r.win_width, r.win_height, 224), m))
    return np.stack(xs)
Xc, Xt = x_of(calib), x_of(test)
class R(CalibrationDataReader):
    def __init__(s): s.it = iter([{"input": Xc[i:i+8]} for i in range(0, len(Xc), 8)])
    def get_next(s): return next(s.it, None)
pre = "/tmp/wt5_lite0_pre.onnx"; q8 = str(ROOT / "outputs/model_store/efficientnet-lite0/model.int8.onnx")
quant_pre_process(m["onnx_file"], pre)
quantize_static(pre, q8, R(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
d = pd.read_parquet(glob.glob(str(ROOT / "outputs/models/ucm-lite0-lr/stages/1_*/data"))[0]).iloc[0]
cm = d.coefficientMatrix; W = np.array(cm["values"]).reshape(cm["numCols"], cm["numRows"]).T if not cm["isTransposed"] else np.array(cm["values"]).reshape(cm["numRows"], cm["numCols"])
b = np.array(d.interceptVector["values"])
def sess(f):
    o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
    return ort.InferenceSession(f, o, providers=["CPUExecutionProvider"])
res = {}
for name, f in [("fp32", m["onnx_file"]), ("int8", q8)]:
    s = sess(f); s.run(["features"], {"input": Xt[:32]})
    t0 = time.time(); F = np.concatenate([s.run(["features"], {"input": Xt[i:i+32]})[0].reshape(-1, 1280) for i in range(0, len(Xt), 32)]); dt = time.time() - t0
    res[name] = (F, len(Xt) / dt)
    print(f"{name}: {len(Xt)/dt:.1f} img/s on 1 thread (batch 32)")
F32, F8 = res["fp32"][0], res["int8"][0]
cos = (F32 * F8).sum(1) / np.linalg.norm(F32, axis=1) / np.linalg.norm(F8, axis=1)
p32, p8 = (F32 @ W.T + b).argmax(1), (F8 @ W.T + b).argmax(1)
print(f"int8 vs fp32: feature cosine median {np.median(cos):.4f} min {cos.min():.4f}; LR top-1 agreement {np.mean(p32 == p8):.3f} on {len(Xt)} NAIP tiles; speed-up {res['int8'][1]/res['fp32'][1]:.2f}x")
