"""Benchmark (not a test): does onnxruntime scale over this machine's cores? EfficientNet-Lite0 img/s for one
one-thread process, two at once, and one process with two threads, on random batches of 32 (20 s each).

    python bench/bench_ort_processes.py

It needs the Lite0 export in outputs/model_store (any `aerial-nb run` makes it)."""
import json, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def img_per_s(threads: int, seconds: float = 20.0) -> float:
    import numpy as np, onnxruntime as ort
    meta = json.loads((ROOT / "outputs/model_store/efficientnet-lite0/meta.json").read_text())
    o = ort.SessionOptions(); o.intra_op_num_threads, o.inter_op_num_threads = threads, 1
    s = ort.InferenceSession(meta["onnx_file"], o, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(32, 3, 224, 224)).astype(np.float32)
    s.run(None, {meta["image_tensor"]: x})
    t0, n = time.time(), 0
    while time.time() - t0 < seconds: s.run(None, {meta["image_tensor"]: x}); n += 32
    return n / (time.time() - t0)

if __name__ == "__main__":
    if len(sys.argv) > 1: print(img_per_s(int(sys.argv[1]))); sys.exit()
    one = lambda t: subprocess.Popen([sys.executable, __file__, str(t)], stdout=subprocess.PIPE, text=True)
    alone = float(one(1).communicate()[0])
    pair = [one(1), one(1)]; both = [float(p.communicate()[0]) for p in pair]
    two_threads = float(one(2).communicate()[0])
    print(f"one process, 1 thread: {alone:.1f} img/s")
    print(f"two processes at once, 1 thread each: {both[0]:.1f} + {both[1]:.1f} = {sum(both):.1f} img/s ({sum(both) / alone:.2f}x)")
    print(f"one process, 2 threads: {two_threads:.1f} img/s ({two_threads / alone:.2f}x)")
