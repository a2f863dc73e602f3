"""Bad input through the `aerial-nb` command: each stops at once with a message naming the problem and the fix."""
import shutil
from pathlib import Path

import yaml
from PIL import Image

from conftest import aerial_nb


def test_validate_lists_every_problem(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump({"classifier": "svm", "sample_frac": 0, "pretrained_model": "x"}))
    r = aerial_nb("validate", str(p), outputs=tmp_path)
    assert r.returncode == 2
    for fragment in ("3 problem(s)", "'svm'", "sample_frac must be a number in (0, 1]",
                     "unknown parameter 'pretrained_model' (did you mean 'pretrained_model_type'?)"):
        assert fragment in r.stderr, (fragment, r.stderr)


def test_sample_frac_above_one_is_refused(tmp_path):
    r = aerial_nb("validate", "params/default.yaml", "--set", "sample_frac=1.5", outputs=tmp_path)
    assert r.returncode == 2 and "sample_frac" in r.stderr


def test_missing_data_says_where_to_get_it(tmp_path):
    r = aerial_nb("run", "params/default.yaml", "--set", f"images_dir={tmp_path / 'nothing'}", outputs=tmp_path, timeout=120)
    assert r.returncode == 2
    assert "does not exist" in r.stderr and "UCMerced_LandUse.zip" in r.stderr
    assert not (tmp_path / "runs").exists(), "nothing may start before the data is found"


def test_empty_class_folder_is_named(tmp_path):
    imgs = tmp_path / "imgs"
    (imgs / "forest").mkdir(parents=True); (imgs / "beach").mkdir()
    Image.new("RGB", (32, 32), "green").save(imgs / "forest" / "f.png")
    r = aerial_nb("run", "params/default.yaml", "--set", f"images_dir={imgs}", outputs=tmp_path, timeout=120)
    assert r.returncode == 2 and "beach" in r.stderr and "no images" in r.stderr


def test_missing_raster_is_named(tmp_path):
    imgs = tmp_path / "imgs"; (imgs / "a").mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(imgs / "a" / "x.png")
    r = aerial_nb("run", "params/default.yaml", "--set", f"images_dir={imgs}", "--set", "score_raster=/no/such.tif",
                  outputs=tmp_path, timeout=120)
    assert r.returncode == 2 and "/no/such.tif" in r.stderr and "NAIP" in r.stderr


def test_existing_model_is_not_overwritten(tmp_path):
    imgs = tmp_path / "imgs"; (imgs / "a").mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(imgs / "a" / "x.png")
    (tmp_path / "models" / "keep-me").mkdir(parents=True)
    (tmp_path / "models" / "keep-me" / "marker").write_text("precious")
    r = aerial_nb("run", "params/default.yaml", "--set", f"images_dir={imgs}", "--set", "score_raster=",
                  "--set", "output_model_name=keep-me", outputs=tmp_path, timeout=120)
    assert r.returncode == 2 and "already exists" in r.stderr and "overwrite_model" in r.stderr
    assert (tmp_path / "models" / "keep-me" / "marker").read_text() == "precious"


def test_corrupt_image_stops_the_run_naming_it(tmp_path):
    """The explore step (a real papermill run of 01_explore) names the corrupt file and keeps the list."""
    imgs = tmp_path / "imgs"
    for c in ("a", "b"):
        (imgs / c).mkdir(parents=True)
        for i in range(3): Image.new("RGB", (32, 32), (40 * i, 80, 120)).save(imgs / c / f"{c}{i}.png")
    (imgs / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    r = aerial_nb("run", "params/default.yaml", "--set", f"images_dir={imgs}", "--set", "score_raster=",
                  "--steps", "01_explore", outputs=tmp_path, timeout=300)
    assert r.returncode == 2, r.stderr
    assert "broken.jpg" in r.stderr and "on_bad_image: skip" in r.stderr
    run_dir = next((tmp_path / "runs").iterdir())
    assert "broken.jpg" in (run_dir / "bad_images.csv").read_text()
    assert (run_dir / "notebooks" / "01_explore.ipynb").exists(), "the failing notebook is kept"
    assert '"status": "failed"' in (run_dir / "status.json").read_text()
