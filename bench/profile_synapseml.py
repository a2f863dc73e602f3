"""Where the synapseml backend's time goes: jstack samples of Spark's task threads while it featurizes.

    python bench/profile_synapseml.py [IMAGES_DIR] [--limit 700] [--hz 4]

Runs `featurize_images(backend="synapseml")` on the images (after a warm-up), samples `jstack` of the driver JVM (local
Spark: the tasks run there) at --hz, and prints, for the task threads ("Executor task launch worker"), the share of
samples in each stage of the flat path: JPEG/PNG decoding, the resize, UnrollImage, the copy into the ONNX tensor,
onnxruntime itself, Spark's row conversion and the sink. Needs nothing but the JDK's jstack.
"""
from __future__ import annotations

import collections
import re
import subprocess
import sys
import threading
import time

from aerial_nb.explore import find_images
from aerial_nb.featurize import featurize_images
from aerial_nb.models import ensure_model
from aerial_nb.settings import load_settings
from aerial_nb.spark import get_spark

# The first frame (from the top of a task thread's stack) that matches decides the sample's stage.
STAGES = [("onnxruntime (the network)", r"ai\.onnxruntime\.OrtSession|OrtSession\.run"),
          ("tensor copy into onnxruntime", r"ai\.onnxruntime\.OnnxTensor|ONNXRuntime.*createTensor|ONNXUtils"),
          ("image decode (ImageIO / OpenCV)", r"javax\.imageio|com\.sun\.imageio|imgcodecs|Imgcodecs|ImageIO"),
          ("resize (OpenCV)", r"org\.opencv\.imgproc|ImageTransformer|ResizeImage"),
          ("UnrollImage", r"UnrollImage|unroll"),
          ("ONNXModel glue (Scala collections, boxing)", r"synapse\.ml\.onnx|scala\.collection|scala\.runtime"),
          ("Spark rows / codegen / sink", r"org\.apache\.spark\.sql|GeneratedClass|UnsafeRow|noop"),
          ("file read", r"org\.apache\.hadoop|java\.io\.FileInputStream|BinaryFile")]


def driver_pid() -> int:
    out = subprocess.run(["jcmd"], capture_output=True, text=True).stdout
    pids = [int(l.split()[0]) for l in out.splitlines() if "SparkSubmit" in l or "pyspark-shell" in l]
    if not pids: sys.exit(f"no Spark JVM found in jcmd's list:\n{out}")
    return pids[-1]


def sample(pid: int, hz: float, stop: threading.Event, counts: collections.Counter, tops: collections.Counter,
           waits: collections.Counter):
    while not stop.is_set():
        t0 = time.time()
        dump = subprocess.run(["jstack", str(pid)], capture_output=True, text=True).stdout
        for block in dump.split("\n\n"):
            if not block.startswith('"Executor task launch worker'): continue
            frames = re.findall(r"^\s+at (\S+)", block, re.M)
            if "java.lang.Thread.State: RUNNABLE" not in block:
                # what a waiting task thread waits in: the first frame outside java.* and sun.* (a lock, a queue)
                mine = next((f for f in frames if not f.startswith(("java.", "sun.", "jdk."))), "?")
                counts["waiting (not runnable)"] += 1; waits[mine] += 1; continue
            stage = next((name for name, rx in STAGES for f in frames[:12] if re.search(rx, f)), "other")
            counts[stage] += 1
            if frames: tops[frames[0]] += 1
        time.sleep(max(0.0, 1 / hz - (time.time() - t0)))


def main(argv: list[str]) -> None:
    images = argv[0] if argv and not argv[0].startswith("--") else "data/ucmerced"
    limit = int(argv[argv.index("--limit") + 1]) if "--limit" in argv else 700
    hz = float(argv[argv.index("--hz") + 1]) if "--hz" in argv else 4.0
    settings = load_settings()
    paths = sorted(find_images(images).path)[:limit]
    featurizer = ensure_model("efficientnet-lite0", settings.path("paths", "model_store"))
    spark = get_spark(settings, app_name="profile-synapseml")
    run = lambda ps: featurize_images(spark, ps, featurizer=featurizer, settings=settings,
                                      backend="synapseml").write.format("noop").mode("overwrite").save()
    run(paths[:32])   # warm-up: the session, the model payload, the JIT
    counts, tops, waits, stop = collections.Counter(), collections.Counter(), collections.Counter(), threading.Event()
    sampler = threading.Thread(target=sample, args=(driver_pid(), hz, stop, counts, tops, waits), daemon=True)
    sampler.start()
    t0 = time.perf_counter(); run(paths); secs = time.perf_counter() - t0
    stop.set(); sampler.join()
    total = sum(counts.values())
    print(f"{len(paths)} images of {images} in {secs:.1f} s ({len(paths) / secs:.1f} img/s); "
          f"{total} task-thread samples at {hz:g} Hz")
    for stage, n in counts.most_common(): print(f"  {n / total:6.1%}  {stage}")
    print("waiting in:")
    for f, n in waits.most_common(6): print(f"  {n:5d}  {f}")
    print("top frames of runnable samples:")
    for f, n in tops.most_common(12): print(f"  {n:5d}  {f}")
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
