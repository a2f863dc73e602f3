"""How fast `aerial_nb.finetune.fit_network`'s training steps run on this CPU, and what memory layouts and number
formats would buy: the tuning network of the default recipe (EfficientNet-Lite0 from its package, two views of
`FINETUNE_INPUT` px, a batch of `BATCH`), forward and backward with AdamW, each variant and `fit_network` itself as it
ships timed in this one process against the fp32 baseline run first and again last (the machine's drift shows as the
two baselines' difference).

The pixels are random: a step's time does not depend on what the pixels show.

    python bench/finetune_speed.py [--steps 20] [--variants fp32 channels_last bf16 channels_last+bf16]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from aerial_nb.finetune import BATCH, FINETUNE_INPUT, fit_network, tuning_network
from aerial_nb.models import model_spec


def step_time(variant: str, steps: int, seed: int = 0) -> float:
    "Seconds per training step (a batch of two views) under `variant`, after two warm-up steps."
    torch.manual_seed(seed)
    net = tuning_network(model_spec("efficientnet-lite0"), 2, 4)
    cl = "channels_last" in variant
    bf16 = "bf16" in variant
    if cl: net = net.to(memory_format=torch.channels_last)
    net.train()
    for b in net.modules():
        if isinstance(b, torch.nn.BatchNorm2d): b.eval()
    opt = torch.optim.AdamW([q for q in net.parameters() if q.requires_grad], lr=2e-4)
    rng = np.random.default_rng(seed)
    xs = [torch.from_numpy(rng.standard_normal((BATCH, 3, FINETUNE_INPUT, FINETUNE_INPUT), dtype=np.float32))
          for _ in range(2)]
    if cl: xs = [x.contiguous(memory_format=torch.channels_last) for x in xs]
    y = torch.as_tensor(rng.integers(0, 4, BATCH))

    def one():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(net(xs), y, label_smoothing=0.1)
        opt.zero_grad(); loss.backward(); opt.step()

    for _ in range(2): one()
    t0 = time.perf_counter()
    for _ in range(steps): one()
    return (time.perf_counter() - t0) / steps


def shipped_step_time(steps: int, seed: int = 0) -> float:
    "Seconds per step of `fit_network` itself (as `finetune_epochs` runs it): one epoch of `steps` batches."
    torch.manual_seed(seed)
    net = tuning_network(model_spec("efficientnet-lite0"), 2, 4)
    rng = np.random.default_rng(seed)
    n = steps * BATCH
    xs = [rng.standard_normal((n, 3, FINETUNE_INPUT, FINETUNE_INPUT), dtype=np.float32) for _ in range(2)]
    t0 = time.perf_counter()
    fit_network(net, xs, rng.integers(0, 4, n), epochs=1, seed=seed)
    return (time.perf_counter() - t0) / steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--variants", nargs="+", default=["channels_last", "bf16", "channels_last+bf16"])
    a = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH} x 2 views at "
          f"{FINETUNE_INPUT} px, {a.steps} steps each")
    base = step_time("fp32", a.steps)
    print(f"{'fp32 (baseline)':24s} {base:.3f} s/step  {BATCH / base:6.1f} squares/s")
    for v in a.variants:
        t = step_time(v, a.steps)
        print(f"{v:24s} {t:.3f} s/step  {BATCH / t:6.1f} squares/s  x{base / t:.2f} against the baseline")
    t = shipped_step_time(a.steps)
    print(f"{'fit_network (shipped)':24s} {t:.3f} s/step  {BATCH / t:6.1f} squares/s  x{base / t:.2f} against the "
          "baseline (no warm-up)")
    again = step_time("fp32", a.steps)
    print(f"{'fp32 (baseline, again)':24s} {again:.3f} s/step  {BATCH / again:6.1f} squares/s  "
          f"(drift {again / base - 1:+.1%})")


if __name__ == "__main__":
    main()
