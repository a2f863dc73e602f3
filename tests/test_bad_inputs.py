"""The catalogue of bad inputs and faults (issue 14): every case is answered by one error line on stderr naming the problem,
the file or parameter and the fix, exit status 2 (128 + N for signal N), no traceback on the terminal, and nothing stale or
half-written left behind. Most cases stop before any Spark session or notebook starts; those that need a real run (a real
signal, a real full disk, a damaged cache) are marked slow."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from aerial_nb.run_folder import leftovers
from helpers import ROOT, cli_env

EXE = Path(sys.executable).parent / "aerial-nb"
# Root ignores file permissions: the permission cases drop the two capabilities that let it (a real refusal, as for a user).
NO_DAC = ["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--", "-c", 'exec "$0" "$@"']


def cli(*args, outputs: Path, env: dict | None = None, cwd: Path = ROOT, prefix=(), timeout: int = 300):
    "Run `aerial-nb` with its outputs in `outputs`; the result carries `seconds`."
    t0 = time.time()
    r = subprocess.run([*prefix, str(EXE), *map(str, args)], cwd=cwd, env=cli_env(outputs, **(env or {})),
                       capture_output=True, text=True, timeout=timeout)
    r.seconds = time.time() - t0
    return r


# Set AERIAL_NB_CATALOGUE to a file to collect the catalogue's table: case, exit status, seconds, message.
CATALOGUE = os.environ.get("AERIAL_NB_CATALOGUE")


def refused(r, *words, rc: int = 2):
    "The command failed with `rc`, said every one of `words` on stderr, and showed no traceback."
    out = r.stdout + r.stderr
    if CATALOGUE:
        with open(CATALOGUE, "a") as f:
            f.write(json.dumps({"case": os.environ.get("PYTEST_CURRENT_TEST", "").split("::")[-1].split(" ")[0],
                                "rc": r.returncode, "seconds": round(getattr(r, "seconds", 0.0), 1),
                                "message": (r.stderr.strip().splitlines() or [""])[0]}) + "\n")
    assert r.returncode == rc, (r.returncode, out[-3000:])
    assert "Traceback" not in out, out[-3000:]
    assert r.stderr.startswith("aerial-nb: "), r.stderr[:500]
    for w in words: assert w in r.stderr, (w, r.stderr)


def no_leftovers(folder: Path):
    "No staging, temporary or half-written file anywhere under `folder`."
    left = [p for p in Path(folder).rglob("*") if ".staging-" in p.name or ".tmp" in p.name or ".old-" in p.name]
    assert not left, left


@pytest.fixture
def imgs(tmp_path) -> Path:
    "A tiny labeled image set: 2 classes of 4 PNGs."
    root = tmp_path / "imgs"
    for c, rgb in (("field", (170, 150, 90)), ("water", (30, 60, 110))):
        (root / c).mkdir(parents=True)
        for i in range(4): Image.new("RGB", (32, 32), tuple(v + 9 * i for v in rgb)).save(root / c / f"{c}{i}.png")
    return root


def run_args(imgs: Path, *extra):
    return ["run", "params/ucmerced.yaml", "--set", f"images_dir={imgs}", "--set", "score_raster=", *extra]


# ---------------------------------------------------------------------------------------------------- parameters
BAD_PARAMS = [  # (--set value, words the error must say)
    ("sample_frac=1.5", ["sample_frac must be a number in (0, 1]"]),
    ("sample_frac=0", ["sample_frac"]),
    ("test_frac=1", ["test_frac must be a number in (0, 1)"]),
    ("seed=-5", ["seed must be a whole number from 0"]),
    ("seed=1.5", ["seed must be a whole number"]),
    ("classifier=[a,b]", ["classifier must be a name", "['a', 'b']"]),
    ("classifier=svm", ["classifier 'svm' is not one of", "logistic_regression"]),
    ("classifier_params={numTreez: 3}", ["numTreez", "not parameters of logistic_regression"]),
    ("classifier_params=[1,2]", ["classifier_params must be a mapping"]),
    ("pretrained_model_type=vgg", ["pretrained_model_type 'vgg' is not one of", "efficientnet-lite0"]),
    ("cv_folds=1", ["cv_folds must be 0 (off) or an integer >= 2"]),
    ("tta=1", ["tta must be true or false"]),
    ("views=[full,zoom]", ["views 'zoom' is not one of full, center2x"]),
    ("pretrained_model_type=[efficientnet-lite0,efficientnet-lite0]", ["pretrained_model_type names one twice"]),
    ("on_bad_image=ignore", ["on_bad_image must be 'error' or 'skip'"]),
    ("label_map=nope", ["nope"]),
    ("output_model_name=../x", ["output_model_name '../x' must be a plain folder name"]),
    ("pretrained_model=x", ["unknown parameter 'pretrained_model' (did you mean 'pretrained_model_type'?)"]),
]


@pytest.mark.parametrize("setting,words", BAD_PARAMS, ids=[s for s, _ in BAD_PARAMS])
def test_bad_parameter_is_refused_by_validate(tmp_path, monkeypatch, capsys, setting, words):
    # In this process (the command's own `main`): 16 interpreters starting would cost a minute for the same answer.
    from aerial_nb.cli import main
    monkeypatch.chdir(ROOT); monkeypatch.setenv("AERIAL_NB_PATHS_OUTPUTS_DIR", str(tmp_path))
    t0 = time.time()
    rc = main(["validate", "params/ucmerced.yaml", "--set", setting])
    r = subprocess.CompletedProcess([], rc, *capsys.readouterr()); r.seconds = time.time() - t0
    refused(r, "problem(s) with the run's parameters", *words)
    assert not any(tmp_path.iterdir()), "validate writes nothing"


def test_long_unicode_run_name_is_refused_by_validate(tmp_path):
    # Issue 31: a 300-character unicode run_name passed validate, then failed with "File name too long".
    refused(cli("validate", "params/ucmerced.yaml", "--set", "run_name=" + "é" * 300, outputs=tmp_path),
            "run_name must be at most 64 characters, got 300")


@pytest.mark.parametrize("name", ["Zürich-Seen", "東京", "a b/c"])
def test_unicode_run_name_makes_a_run_id_that_resume_takes(name):
    # Issue 31: a run id with unicode was created, then refused by `--run-id … --resume` ("not a plain name").
    from aerial_nb.pipeline import check_run_id, new_run_id
    from aerial_nb.run_params import default_params
    from aerial_nb.sweep import point_run_id
    for run_id in (new_run_id({"run_name": name}), point_run_id({**default_params(), "run_name": name})):
        assert check_run_id(run_id) == run_id
    assert "-Zurich-Seen-" in new_run_id({"run_name": "Zürich-Seen"})


def test_validate_lists_every_problem(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump({"classifier": "svm", "sample_frac": 0, "pretrained_model": "x"}))
    refused(cli("validate", p, outputs=tmp_path), "3 problem(s)", "'svm'", "sample_frac must be a number in (0, 1]",
            "unknown parameter 'pretrained_model' (did you mean 'pretrained_model_type'?)")


@pytest.mark.parametrize("text,words", [("- a\n- b\n", ["holds a list, not a mapping"]),
                                        ("42\n", ["holds a int, not a mapping"]),
                                        ("classifier: [unclosed\n", ["is not valid YAML"]),
                                        ("", ["holds no parameters", "params/default.yaml"]),
                                        ("# to do\n", ["holds no parameters"]),
                                        ("seed: 1\nclassifier: random_forest\nseed: 2\n",
                                         ["'seed' is given twice (lines 1 and 3)"])],
                         ids=["list", "scalar", "invalid-yaml", "empty", "only-comments", "duplicate-key"])
def test_params_file_that_is_not_a_mapping(tmp_path, text, words):
    p = tmp_path / "p.yaml"; p.write_text(text)
    for verb in ("validate", "run"):
        refused(cli(verb, p, outputs=tmp_path / "out"), str(p), *words)
    assert not (tmp_path / "out").exists()


def test_output_cut_short_by_its_reader(tmp_path):
    # Issue 31: `aerial-nb params | head` printed "Broken pipe:: check the path." and exited 2.
    p = subprocess.Popen([str(EXE), "params"], cwd=ROOT, env=cli_env(tmp_path), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()   # the reader left before the first line
    assert p.wait(timeout=60) == 128 + signal.SIGPIPE and p.stderr.read() == b"", "quiet, as a command killed by SIGPIPE"


def test_params_file_missing(tmp_path):
    refused(cli("run", tmp_path / "nope.yaml", outputs=tmp_path), "nope.yaml does not exist", "params/default.yaml")


def test_set_without_equals(tmp_path):
    refused(cli("validate", "params/ucmerced.yaml", "--set", "seed", outputs=tmp_path), "--set takes key=value")


# ---------------------------------------------------------------------------------------------------- run ids and steps
def test_unknown_step(tmp_path, imgs):
    refused(cli(*run_args(imgs, "--steps", "03_trian"), outputs=tmp_path), "03_trian", "choose from 00_setup")
    assert not (tmp_path / "runs").exists()


def test_train_alone_on_a_new_run_names_the_steps_it_needs(tmp_path, imgs):
    r = cli(*run_args(imgs, "--steps", "03_train"), outputs=tmp_path)
    refused(r, "manifest.parquet from 01_explore", "features.json from 02_featurize", "--steps 01_explore,02_featurize,03_train")
    assert not (tmp_path / "runs").exists(), "refused before a run folder exists"


def test_visualize_without_a_trained_run_names_train(tmp_path, imgs):
    refused(cli(*run_args(imgs, "--steps", "05_score,06_visualize"), outputs=tmp_path),
            "06_visualize reads metrics.json from 03_train")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("run_id", ["../../x", "a/b", ".hidden", "x" * 200])
def test_run_id_must_be_a_plain_name(tmp_path, imgs, run_id):
    refused(cli(*run_args(imgs, "--run-id", run_id, "--steps", "01_explore"), outputs=tmp_path / "o"), "is not a plain name")
    assert not any(tmp_path.rglob("x")) and not (tmp_path / "o").exists(), "nothing written, inside or outside outputs"


def fake_run(outputs: Path, imgs: Path, run_id: str = "r1") -> Path:
    "A finished run folder as run_pipeline leaves it (params, resolved params, status, a result)."
    from aerial_nb.pipeline import load_params, resolve_inputs, validate_params
    from aerial_nb.settings import load_settings
    # the parameters `run_args` gives: params/ucmerced.yaml with the fixture images and no raster
    given = validate_params({**load_params(ROOT / "params" / "ucmerced.yaml"), "images_dir": str(imgs), "score_raster": ""})
    resolved = resolve_inputs(given, load_settings(ROOT / "settings.ini"))
    d = outputs / "runs" / run_id
    (d / "notebooks").mkdir(parents=True)
    (d / "params.yaml").write_text(yaml.safe_dump(given))
    (d / "resolved_params.yaml").write_text(yaml.safe_dump({**resolved, "run_id": run_id}))
    (d / "status.json").write_text(json.dumps({"status": "finished", "steps": ["01_explore"], "timings": {"01_explore": 1.0},
                                               "run_id": run_id}))
    (d / "old-result.txt").write_text("a result of the first run")
    return d


def snapshot(d: Path) -> dict:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_existing_run_id_is_refused(tmp_path, imgs):
    d = fake_run(tmp_path, imgs); before = snapshot(d)
    other = tmp_path / "other"; shutil.copytree(imgs, other)
    r = cli(*run_args(other, "--run-id", "r1", "--steps", "01_explore"), outputs=tmp_path)
    refused(r, "Run r1 already exists", "status finished", "--resume", "--replace")
    assert snapshot(d) == before, "the old run is untouched"


def test_resume_with_other_parameters_is_refused(tmp_path, imgs):
    d = fake_run(tmp_path, imgs); before = snapshot(d)
    other = tmp_path / "other"; shutil.copytree(imgs, other)
    r = cli(*run_args(other, "--run-id", "r1", "--resume"), outputs=tmp_path)
    refused(r, "--resume: run r1 ran with other parameters", "images_dir", str(other))
    assert snapshot(d) == before


def test_resume_of_a_finished_run_runs_nothing(tmp_path, imgs):
    d = fake_run(tmp_path, imgs); before = snapshot(d)
    r = cli(*run_args(imgs, "--run-id", "r1", "--resume"), outputs=tmp_path)
    assert r.returncode == 0 and "nothing to resume" in r.stdout, r.stdout + r.stderr
    assert snapshot(d) == before


@pytest.mark.parametrize("flags,words", [(["--run-id", "r1", "--resume", "--replace"], ["exclude each other"]),
                                         (["--resume"], ["need the --run-id"]),
                                         (["--run-id", "nosuch", "--resume"], ["there is no run nosuch"])],
                         ids=["resume-and-replace", "resume-without-id", "resume-unknown-id"])
def test_resume_and_replace_misuse(tmp_path, imgs, flags, words):
    refused(cli(*run_args(imgs, *flags), outputs=tmp_path), *words)
    assert not (tmp_path / "runs").exists()


def test_a_running_run_cannot_be_resumed(tmp_path, imgs):
    d = fake_run(tmp_path, imgs)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (d / "status.json").write_text(json.dumps({"status": "running", "step": "02_featurize", "pid": sleeper.pid}))
        refused(cli(*run_args(imgs, "--run-id", "r1", "--resume"), outputs=tmp_path), "is running now", str(sleeper.pid))
    finally: sleeper.kill(); sleeper.wait()


def dead_pid() -> int:
    p = subprocess.Popen(["true"]); p.wait()
    return p.pid


def test_a_killed_run_is_said_to_be_killed(tmp_path, imgs):
    # Issue 31: kill -9 left status.json at "running" with a dead pid; the next command must say the run was killed.
    d = fake_run(tmp_path, imgs)
    pid = dead_pid()
    (d / "status.json").write_text(json.dumps({"status": "running", "step": "02_featurize", "pid": pid, "run_id": "r1",
                                               "steps": ["01_explore", "02_featurize"], "timings": {"01_explore": 1.0}}))
    r = cli(*run_args(imgs, "--run-id", "r1", "--steps", "01_explore"), outputs=tmp_path)
    refused(r, "Run r1 already exists", f"status failed, killed: its process {pid} ended during 02_featurize", "--resume")
    st = json.loads((d / "status.json").read_text())
    assert st["status"] == "failed" and "killed" in st["error"] and st["timings"] == {"01_explore": 1.0}, st


def test_a_killed_trainings_half_written_model_is_cleared_by_the_next(tmp_path):
    # Issue 31: kill -9 while saving a model left a hidden models/.<name>.tmp-* folder that nothing removed.
    from aerial_nb.run_folder import writer_tag
    from aerial_nb.train import check_model_name
    models = tmp_path / "models"; models.mkdir()
    killed = models / f".ow.tmp-pid{dead_pid()}@{writer_tag().split('@')[1]}-1234abcd"
    (killed / "stages").mkdir(parents=True)
    running = models / f".x.tmp-{writer_tag()}-5678abcd"; running.mkdir()   # a writer still at work
    check_model_name(models, "next")
    assert not killed.exists() and running.exists()


def test_a_resumed_run_is_compared_with_the_others(tmp_path):
    # Found with issue 31: a run stopped during 02_featurize, then resumed, failed in 04_compare ("'DataFrame' object
    # has no attribute 'classes'"): its MLflow row stayed FAILED, and a history of failed runs only gave a frame
    # without columns.
    from aerial_nb.compare import load_history
    from aerial_nb.settings import load_settings
    from aerial_nb.tracking import log_run, read_runs
    out = tmp_path / "o"
    d = trained_run(out, "r1", 0.9)
    settings = load_settings(ROOT / "settings.ini", env={"AERIAL_NB_PATHS_OUTPUTS_DIR": str(out),
                                                         "AERIAL_NB_TRACKING_URI": f"sqlite:///{tmp_path / 'm.db'}"})
    (d / "status.json").write_text(json.dumps({"status": "failed", "step": "02_featurize", "error": "stopped by SIGINT"}))
    log_run(d, settings)                                   # the stopped attempt
    assert list(read_runs(settings).status) == ["FAILED"]
    assert "classes" in load_history(settings).columns and len(load_history(settings)) == 0
    (d / "status.json").write_text(json.dumps({"status": "running", "step": "04_compare"}))
    log_run(d, settings)                                   # resumed: trained again, logged before 04_compare
    assert list(read_runs(settings).status) == ["RUNNING"]
    assert load_history(settings).run_id.tolist() == ["r1"]


def test_a_run_whose_end_missed_the_run_history_is_recorded_by_resume(tmp_path, imgs):
    # Issue 31: after a disk-full during tracking, the run ended `finished` and its MLflow row stayed RUNNING.
    from mlflow.tracking import MlflowClient
    d = fake_run(tmp_path, imgs)
    st = json.loads((d / "status.json").read_text())
    (d / "status.json").write_text(json.dumps({**st, "history_error": "not updated in sqlite:///x: OSError: [Errno 28] "
                                                                     "No space left on device"}))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    r = cli(*run_args(imgs, "--run-id", "r1", "--resume"), outputs=tmp_path, env={"AERIAL_NB_TRACKING_URI": uri})
    assert r.returncode == 0 and "nothing to resume" in r.stdout and "recorded in the run history now" in r.stdout, \
        r.stdout + r.stderr
    assert "history_error" not in json.loads((d / "status.json").read_text())
    c = MlflowClient(tracking_uri=uri)
    runs = c.search_runs([c.get_experiment_by_name("aerial_nb").experiment_id])
    assert [x.info.status for x in runs] == ["FINISHED"] and runs[0].data.tags["aerial_nb.run_id"] == "r1"


# ---------------------------------------------------------------------------------------------------- data
def test_missing_images_dir_says_where_to_get_data(tmp_path):
    refused(cli(*run_args(tmp_path / "nothing"), outputs=tmp_path), "does not exist", "data/eurosat", "UCMerced_LandUse.zip")
    assert not (tmp_path / "runs").exists()


def test_images_dir_one_level_too_high(tmp_path, imgs):
    high = tmp_path / "ucm"; shutil.copytree(imgs, high / "Images")   # like UC Merced's zip: <dir>/Images/<class>
    refused(cli(*run_args(high), outputs=tmp_path), "looks one level too high", f"Point images_dir at {high / 'Images'}")


def test_empty_class_folder_is_named(tmp_path, imgs):
    (imgs / "beach").mkdir()
    refused(cli(*run_args(imgs), outputs=tmp_path), "beach", "no images")


def test_images_in_nested_folders_are_taken_and_named(tmp_path, imgs):
    # Issue 31: 60 images in field/sub/ and field/sub/deeper/ were explored as the 4 in field/, without a word.
    from aerial_nb.explore import explore_step
    for sub in ("sub", "sub/deeper"):
        (imgs / "field" / sub).mkdir(parents=True)
        for i in range(30): shutil.copy(imgs / "field" / f"field{i % 4}.png", imgs / "field" / sub / f"n{i}.png")
    said = []
    manifest = explore_step(imgs, tmp_path / "run", log=said.append)
    assert (manifest.label == "field").sum() == 64 and (manifest.label == "water").sum() == 4
    assert len(said) == 1 and said[0].startswith("60 file(s) in folders nested in class folders were taken"), said
    assert "field/ (sub, sub/deeper)" in said[0] and str(imgs) in said[0], said


def test_cmyk_image_is_refused_by_name(tmp_path, imgs):
    # Issue 31: CMYK JPEGs featurized differently in the two backends (cosine 0.79 and 0.95), no file named.
    from aerial_nb.explore import explore_step
    Image.open(imgs / "water" / "water0.png").convert("CMYK").save(imgs / "water" / "print.jpg")
    with pytest.raises(ValueError) as e: explore_step(imgs, tmp_path / "run", log=lambda m: None)
    assert "print.jpg" in str(e.value) and "CMYK" in str(e.value) and "convert it to RGB" in str(e.value), e.value
    assert "on_bad_image: skip" in str(e.value)
    assert len(explore_step(imgs, tmp_path / "run", on_bad_image="skip")) == 8, "skip leaves it out"


def test_single_class_is_refused_up_front(tmp_path, imgs):
    shutil.rmtree(imgs / "water")
    refused(cli(*run_args(imgs), outputs=tmp_path), "at least 2 class folders")
    assert not (tmp_path / "runs").exists()


def test_cv_folds_larger_than_a_class_fails_before_any_work(tmp_path, imgs):
    refused(cli(*run_args(imgs, "--set", "cv_folds=1000"), outputs=tmp_path), "cv_folds=1000", "use cv_folds <= 4")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "models").exists(), "no run, no orphan model"


def test_missing_raster_is_named(tmp_path, imgs):
    refused(cli(*run_args(imgs, "--set", "score_raster=/no/such.tif"), outputs=tmp_path), "/no/such.tif", "NAIP")


def truncated_raster(tmp_path) -> Path:
    from aerial_nb.testing import make_fixture_geotiff
    full = make_fixture_geotiff(tmp_path / "full_20200101.tif")
    cut = tmp_path / "cut_20200101.tif"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size * 2 // 3])
    return cut


def test_truncated_raster_to_score_fails_before_the_run(tmp_path, imgs):
    cut = truncated_raster(tmp_path)
    refused(cli(*run_args(imgs)[:-2], "--set", f"score_raster={cut}", outputs=tmp_path / "o"), str(cut), "truncated or damaged")
    assert not (tmp_path / "o" / "runs").exists()


def test_raster_without_crs_fails_before_the_run(tmp_path, imgs):
    from aerial_nb.testing import make_fixture_geotiff
    r0 = make_fixture_geotiff(tmp_path / "nocrs.tif", crs=None)
    refused(cli(*run_args(imgs)[:-2], "--set", f"score_raster={r0}", outputs=tmp_path / "o"), "no CRS", "gdal_edit.py")


def test_existing_model_is_not_overwritten(tmp_path, imgs):
    (tmp_path / "models" / "keep-me").mkdir(parents=True)
    (tmp_path / "models" / "keep-me" / "marker").write_text("precious")
    refused(cli(*run_args(imgs, "--set", "output_model_name=keep-me"), outputs=tmp_path), "already exists", "overwrite_model")
    assert (tmp_path / "models" / "keep-me" / "marker").read_text() == "precious"


def test_missing_settings_file(tmp_path, imgs):
    refused(cli(*run_args(imgs, "--settings", tmp_path / "nope.ini"), outputs=tmp_path), "nope.ini does not exist")


@pytest.mark.parametrize("old,new,words", [
    ("driver_memory =", "driver_memroy =", ["unknown setting(s)", "[spark] driver_memroy (did you mean 'driver_memory'?)"]),
    ("[spark]\n", "[sparkk]\n", ["unknown setting(s)", "section [sparkk] (did you mean [spark]?)"]),
    ("[featurize]\n", "[spark]\n", ["not a valid settings file", "section 'spark' already exists"]),
], ids=["key", "section", "section-twice"])
def test_misspelt_setting_is_named(tmp_path, imgs, old, new, words):
    # Issue 31: a misspelt key or section was ignored, and its default used without a word.
    ini = tmp_path / "settings.ini"; ini.write_text((ROOT / "settings.ini").read_text().replace(old, new, 1))
    refused(cli(*run_args(imgs, "--settings", ini), outputs=tmp_path / "o"), str(ini), *words)
    assert not (tmp_path / "o").exists()


def test_every_setting_read_is_known():
    # The sections read with their own defaults are known to settings.ini's check (aerial_nb.settings.OPTIONAL_SETTINGS).
    from aerial_nb.settings import OPTIONAL_SETTINGS
    from aerial_nb.storage import STORAGE_DEFAULTS
    from aerial_nb.tracking import TRACKING_DEFAULTS
    assert set(OPTIONAL_SETTINGS["storage"]) == set(STORAGE_DEFAULTS)
    assert set(OPTIONAL_SETTINGS["tracking"]) == set(TRACKING_DEFAULTS)


def test_no_settings_found(tmp_path, imgs):
    r = cli(*[a if a != "params/ucmerced.yaml" else ROOT / "params/ucmerced.yaml" for a in run_args(imgs)],
            outputs=tmp_path, cwd=tmp_path, env={"AERIAL_NB_SETTINGS": ""})
    refused(r, "No settings.ini found", "--settings")


def test_unreachable_spark_master_is_named_before_any_step(tmp_path, imgs):
    r = cli(*run_args(imgs), outputs=tmp_path, env={"AERIAL_NB_SPARK_MASTER": "spark://127.0.0.1:1"})
    refused(r, "Spark master spark://127.0.0.1:1", "does not answer", "local[*]")
    assert r.seconds < 60 and not (tmp_path / "runs").exists()


def need_capsh():
    if os.geteuid() == 0 and not shutil.which("capsh"):
        pytest.skip("running as root without capsh: root ignores file permissions, so a refusal cannot be made real")
    return NO_DAC if os.geteuid() == 0 else []


def test_unreadable_class_folder(tmp_path, imgs):
    prefix = need_capsh()
    os.chmod(tmp_path, 0o755)
    (imgs / "water").chmod(0)
    try: r = cli(*run_args(imgs), outputs=tmp_path / "o", prefix=prefix)
    finally: (imgs / "water").chmod(0o755)
    refused(r, f"Folder {imgs / 'water'}", "cannot be read", "chmod")


def test_outputs_not_writable(tmp_path, imgs):
    prefix = need_capsh()
    out = tmp_path / "o"; out.mkdir(); out.chmod(0o555)
    try: r = cli(*run_args(imgs), outputs=out, prefix=prefix)
    finally: out.chmod(0o755)
    refused(r, "Permission denied", str(out), "outputs_dir")
    assert not any(out.iterdir())


# ---------------------------------------------------------------------------------------------------- tile
@pytest.fixture
def raster(tmp_path) -> Path:
    from aerial_nb.testing import make_fixture_geotiff
    return make_fixture_geotiff(tmp_path / "r" / "area_20200101.tif")


@pytest.mark.parametrize("flags,words", [
    (["--max-nodata-frac", "-1"], ["max_nodata_frac (--max-nodata-frac) must be a fraction from 0"]),
    (["--max-nodata-frac", "2"], ["max_nodata_frac (--max-nodata-frac)"]),
    (["--footprint-m", "-5"], ["footprint_m (--footprint-m) must be a positive number"]),
    (["--stride-m", "0"], ["stride_m (--stride-m) must be a positive number"]),
    (["--tile-px", "0"], ["tile_px (--tile-px)"]),
    (["--bands", "1,2"], ["exactly 3 bands"]),
    (["--bands", "1,2,9"], ["has 4 band(s)", "bands=(1, 2, 9)"]),
    (["--footprint-m", "5000"], ["larger than the raster"]),
], ids=["nodata-neg", "nodata-2", "footprint-neg", "stride-0", "tile-px-0", "two-bands", "band-9", "footprint-huge"])
def test_bad_tile_option(tmp_path, raster, flags, words):
    r = cli("tile", raster, "--out", tmp_path / "t", *flags, outputs=tmp_path)
    refused(r, *words)
    if "footprint-m" in flags and "-5" in flags: assert "stride" not in r.stderr, "a bad footprint is not blamed on the stride"
    assert not (tmp_path / "t").exists(); no_leftovers(tmp_path)


@pytest.mark.parametrize("how", ["read-only-disk", "no-permission"])
def test_tile_out_not_writable_names_out(tmp_path, raster, how):
    # Issue 31: `tile --out` on a read-only disk advised `[paths] outputs_dir`, which `--out` does not read.
    d, prefix = tmp_path / "ro", []
    d.mkdir()
    if how == "read-only-disk":
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(d)], capture_output=True, text=True)
        if r.returncode != 0: pytest.skip(f"cannot mount a read-only tmpfs (needs root): {r.stderr.strip()}")
    else:
        prefix = need_capsh(); os.chmod(tmp_path, 0o755); d.chmod(0o555)
    try: r = cli("tile", raster, "--out", d / "t", "--footprint-m", "100", outputs=tmp_path, prefix=prefix)
    finally:
        if how == "read-only-disk": subprocess.run(["umount", "-l", str(d)])
        else: d.chmod(0o755)
    refused(r, f"give --out a folder this user can write (now {d / 't'})")
    assert "outputs_dir" not in r.stderr, r.stderr


def big_raster(path: Path, side: int) -> Path:
    "A `side` x `side` px, 3-band, 1 m GeoTIFF written strip by strip; its left 10% is a black border (no nodata tag)."
    import rasterio
    from rasterio.transform import from_origin
    prof = dict(driver="GTiff", width=side, height=side, count=3, dtype="uint8", crs="EPSG:26914", tiled=True,
                compress="deflate", transform=from_origin(500_000, 5_200_000, 1.0, 1.0))
    with rasterio.open(path, "w", **prof) as d:
        for r0 in range(0, side, 1024):
            h = min(1024, side - r0)
            block = np.full((3, h, side), 120, np.uint8); block[:, :, : side // 10] = 0
            d.write(block, window=rasterio.windows.Window(0, r0, side, h))
    return path


def test_tiler_memory_stays_flat_and_each_tile_says_its_nodata(tmp_path):
    # Issue 31: `tile` of a 10,000 x 10,000 px raster peaked at 2.26 GB (a whole-raster int64 summed-area table);
    # tiles partly black were scored with no word of it.
    import tracemalloc
    from aerial_nb.tiles import tile_raster
    r = big_raster(tmp_path / "big_20200101.tif", 6000)
    tracemalloc.start()
    try: df = tile_raster(r, tmp_path / "t", footprint_m=640, stride_m=160, tile_px=64, write_images=False)
    finally: peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    assert peak < 40 * 2**20, f"peak {peak / 2**20:.0f} MiB for 36 Mpx (a whole-raster table: ~300 MiB)"
    # windows over the 600 px border: 0 to 50% of each is black (more is not cut: max_nodata_frac 0.5)
    assert df.nodata_frac.max() <= 0.5 and (df.nodata_frac > 0).sum() >= 30 and (df.nodata_frac == 0).any()
    border = df[(df.col_off == 160)].nodata_frac   # 440 of its 640 columns are black: more than half, so not cut
    assert border.empty and set(df[df.col_off == 320].nodata_frac.round(4)) == {round(280 / 640, 4)}


def test_tile_missing_raster(tmp_path):
    refused(cli("tile", tmp_path / "nope.tif", "--out", tmp_path / "t", outputs=tmp_path), "nope.tif", "not found")


def test_tile_truncated_raster(tmp_path):
    cut = truncated_raster(tmp_path)
    refused(cli("tile", cut, "--out", tmp_path / "t", outputs=tmp_path), str(cut), "truncated or damaged")
    assert not (tmp_path / "t").exists(); no_leftovers(tmp_path)


def test_tile_float_raster(tmp_path):
    import rasterio
    from aerial_nb.testing import make_fixture_geotiff
    src = make_fixture_geotiff(tmp_path / "u8.tif")
    with rasterio.open(src) as s: prof, data = s.profile, s.read()
    prof.update(dtype="float32")
    with rasterio.open(tmp_path / "f32.tif", "w", **prof) as d: d.write(data.astype(np.float32))
    refused(cli("tile", tmp_path / "f32.tif", "--out", tmp_path / "t", outputs=tmp_path), "float32", "gdal_translate -ot Byte")


def test_retile_that_fails_halfway_keeps_the_old_set(tmp_path, raster):
    out = tmp_path / "t"
    assert cli("tile", raster, "--out", out, "--footprint-m", "100", outputs=tmp_path).returncode == 0
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    cut = truncated_raster(tmp_path)
    # a new size and band order, and a second raster that breaks after the first one's tiles are cut
    r = cli("tile", raster, cut, "--out", out, "--footprint-m", "50", "--bands", "3,2,1", outputs=tmp_path)
    refused(r, str(cut), "truncated or damaged")
    assert snapshot(out) == before, "old PNGs and their tiles.csv, as they were"
    no_leftovers(tmp_path)


def test_retile_replaces_the_set_whole(tmp_path, raster):
    out = tmp_path / "t"
    assert cli("tile", raster, "--out", out, "--footprint-m", "100", outputs=tmp_path).returncode == 0
    (out / "notes.txt").write_text("mine")
    r = cli("tile", raster, "--out", out, "--footprint-m", "200", outputs=tmp_path)
    assert r.returncode == 0, r.stderr
    import pandas as pd
    listed = set(pd.read_csv(out / "tiles.csv").filename)
    assert {p.name for p in out.glob("*.png")} == listed, "no PNG of the old set remains"
    assert (out / "notes.txt").read_text() == "mine", "the user's files stay"
    no_leftovers(tmp_path)


def test_tiles_are_readable_by_other_users(tmp_path, raster):
    out = tmp_path / "t"
    old = os.umask(0o022)
    try: assert cli("tile", raster, "--out", out, "--footprint-m", "100", outputs=tmp_path).returncode == 0
    finally: os.umask(old)
    for f in [*out.glob("*.png"), out / "tiles.csv"]: assert f.stat().st_mode & 0o044 == 0o044, (f, oct(f.stat().st_mode))


def test_every_tile_skipped_as_nodata(tmp_path):
    from aerial_nb.testing import make_fixture_geotiff
    import rasterio
    r0 = make_fixture_geotiff(tmp_path / "blank_20200101.tif")
    with rasterio.open(r0, "r+") as d: d.write(np.zeros((d.count, d.height, d.width), np.uint8))
    r = cli("tile", r0, "--out", tmp_path / "t", "--footprint-m", "100", outputs=tmp_path)
    assert r.returncode == 0 and "0 tiles" in r.stdout, r.stdout + r.stderr
    assert (tmp_path / "t" / "tiles.csv").read_text().startswith("filename,"); no_leftovers(tmp_path)
    r = cli("score", tmp_path / "t", "--out", tmp_path / "s", outputs=tmp_path)
    refused(r, "no tiles")


# ---------------------------------------------------------------------------------------------------- score (before Spark)
def test_score_without_tiles_csv(tmp_path):
    (tmp_path / "t").mkdir()
    refused(cli("score", tmp_path / "t", "--out", tmp_path / "s", outputs=tmp_path), "no tiles.csv", "aerial-nb tile")
    assert not (tmp_path / "s").exists()


def test_score_tiles_csv_missing_columns(tmp_path):
    (tmp_path / "t").mkdir(); (tmp_path / "t" / "tiles.csv").write_text("filename,llcrnrlat\na.png,1\n")
    refused(cli("score", tmp_path / "t", "--out", tmp_path / "s", outputs=tmp_path), "missing column(s)", "llcrnrlon")


def test_score_from_images_with_a_tile_missing(tmp_path, raster):
    out = tmp_path / "t"
    assert cli("tile", raster, "--out", out, "--footprint-m", "100", outputs=tmp_path).returncode == 0
    victim = sorted(out.glob("*.png"))[0]; victim.unlink()
    refused(cli("score", out, "--out", tmp_path / "s", "--from-images", outputs=tmp_path), "1 listed tile file(s) missing",
            victim.name)


def test_score_with_a_folder_that_is_no_model(tmp_path, raster):
    out = tmp_path / "t"
    assert cli("tile", raster, "--out", out, "--footprint-m", "100", "--no-images", outputs=tmp_path).returncode == 0
    (tmp_path / "m").mkdir()
    refused(cli("score", out, "--out", tmp_path / "s", "--model", tmp_path / "m", outputs=tmp_path), "not an aerial_nb model folder")


def fake_model(d: Path, meta: dict) -> Path:
    "A model folder as 03_train saves it, as far as its files go: Spark's metadata (pipeline, one stage), aerial_nb.json."
    (d / "metadata").mkdir(parents=True); (d / "stages" / "0_lr_1" / "metadata").mkdir(parents=True)
    (d / "metadata" / "part-00000").write_text(json.dumps({"class": "org.apache.spark.ml.PipelineModel",
                                                           "paramMap": {"stageUids": ["lr_1"]}}) + "\n")
    (d / "stages" / "0_lr_1" / "metadata" / "part-00000").write_text('{"class": "LogisticRegressionModel"}\n')
    (d / "aerial_nb.json").write_text(json.dumps(meta, indent=2))
    return d


@pytest.mark.parametrize("damage,words", [
    (lambda m: m.joinpath("aerial_nb.json").write_text(m.joinpath("aerial_nb.json").read_text()[:40]),
     ["aerial_nb.json is damaged (cut short?)"]),
    (lambda m: shutil.rmtree(m / "metadata"), ["metadata/part-00000 is missing", "not a whole Spark ML model"]),
    (lambda m: m.joinpath("stages/0_lr_1/metadata/part-00000").write_text('{"class": "Logis'),
     ["stages/0_lr_1/metadata/part-00000 is damaged"]),
], ids=["meta-cut-short", "no-spark-metadata", "stage-metadata-cut-short"])
def test_score_with_a_damaged_model(tmp_path, raster, damage, words):
    # Issue 31: "Expecting value: line 11 column 4" without the file; a Py4J stack of 30 (or 122) lines.
    tiles = tmp_path / "t"
    assert cli("tile", raster, "--out", tiles, "--footprint-m", "100", "--no-images", outputs=tmp_path).returncode == 0
    model = fake_model(tmp_path / "models" / "m", {"model_name": "m", "onnx_sha256": "0" * 64, "labels": ["a", "b"]})
    damage(model)
    r = cli("score", tiles, "--out", tmp_path / "s", "--model", model, outputs=tmp_path)
    refused(r, str(model), *words, "train it again")
    assert len(r.stderr.splitlines()) == 1 and r.seconds < 30, "one line, before Spark starts"
    assert not (tmp_path / "s").exists()


def test_score_into_a_job_of_a_model_retrained_under_the_same_name(tmp_path, raster):
    # Issue 31: `ow` (a logistic regression) scored into S, then retrained as a random forest with overwrite_model: a
    # second score into S resumed the old job and kept the LR's predictions. The model's files decide, not its name.
    from aerial_nb.region import plan_job
    import pandas as pd
    tiles = tmp_path / "t"
    assert cli("tile", raster, "--out", tiles, "--footprint-m", "100", "--no-images", outputs=tmp_path).returncode == 0
    meta = {"model_name": "ow", "onnx_sha256": "0" * 64, "labels": ["field", "water"], "run_id": "lr-run",
            "created": "2026-01-01T00:00:00Z"}
    model = fake_model(tmp_path / "models" / "ow", meta)
    (model / "stages" / "data").write_text("logistic regression")
    S = tmp_path / "S"
    plan_job(S, pd.read_csv(tiles / "tiles.csv"), meta=meta, model_dir=model, chunk_size=64, run_id="")
    (S / "predictions.parquet").write_text("the LR's predictions")
    before = snapshot(S)
    (model / "aerial_nb.json").write_text(json.dumps({**meta, "run_id": "rf-run", "created": "2026-01-02T00:00:00Z"}))
    (model / "stages" / "data").write_text("random forest")
    r = cli("score", tiles, "--out", S, "--model", model, outputs=tmp_path)
    refused(r, str(S), "model 'ow' trained by run lr-run", "retrained since (now run rf-run", "score into a new output folder")
    assert r.seconds < 30, "refused before Spark starts"
    assert snapshot(S) == before, "the old job and its predictions are untouched"


@pytest.mark.parametrize("flags,words", [(["--chunk-size", "0"], ["--chunk-size must be"]),
                                         (["--run-id", "../x"], ["is not a plain name"])], ids=["chunk-0", "run-id"])
def test_bad_score_option(tmp_path, flags, words):
    (tmp_path / "t").mkdir()
    refused(cli("score", tmp_path / "t", "--out", tmp_path / "s", *flags, outputs=tmp_path), *words)


# ---------------------------------------------------------------------------------------------------- sweep
@pytest.mark.parametrize("grid,flags,words", [
    ("- a\n", ["--dry-run"], ["holds a list"]),
    ("classifier: []\n", ["--dry-run"], ["empty list of values"]),
    ("classifier: [logistic_regression, random_forest]\noutput_model_name: same\n", ["--dry-run"], ["would be claimed by all 2 points"]),
    ("classifier: [logistic_regression, svm]\n", ["--dry-run"], ["'svm'", "nothing was run"]),
    ("classifier: logistic_regression\n", ["--jobs", "0"], ["jobs must be a whole number >= 1"]),
], ids=["list", "empty-choice", "shared-model-name", "bad-point", "jobs-0"])
def test_bad_sweep(tmp_path, grid, flags, words):
    g = tmp_path / "grid.yaml"; g.write_text(grid)
    refused(cli("sweep", g, *flags, outputs=tmp_path / "o"), *words)
    assert not (tmp_path / "o" / "runs").exists()


def test_a_second_sweep_of_the_same_grid_is_refused(tmp_path, imgs):
    # Issue 31: two sweeps of one grid into one outputs folder ran the same points and failed on each other's files.
    g = tmp_path / "grid.yaml"
    g.write_text(yaml.safe_dump({"images_dir": str(imgs), "score_raster": "", "classifier": ["logistic_regression",
                                                                                             "random_forest"]}))
    out = tmp_path / "o"
    holder = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
from aerial_nb.settings import load_settings
from aerial_nb.sweep import _h, sweep_lock, sweep_plan
s = load_settings()
sweep_id = "sweep-" + _h(sorted(sweep_plan({str(g)!r}, s).run_id), 10)
d = s.path("paths", "outputs_dir") / "sweeps" / sweep_id; d.mkdir(parents=True)
with sweep_lock(d, sweep_id): print("held", flush=True); time.sleep(120)
"""], cwd=ROOT, env=cli_env(out), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        refused(cli("sweep", g, outputs=out), "is running now", f"process {holder.pid}", "kill -INT")
    finally: holder.kill(); holder.wait()
    assert not (out / "runs").exists(), "no point of the second sweep started"


# ---------------------------------------------------------------------------------------------------- caches and status (no Spark)
def test_feature_cache_entry_with_a_missing_part_is_detected(tmp_path):
    import pandas as pd
    from aerial_nb.feature_cache import cache_entry_problem
    entry = tmp_path / "key"; (entry / "features.parquet").mkdir(parents=True)
    for i in range(3): pd.DataFrame({"path": [f"{i}a", f"{i}b"]}).to_parquet(entry / "features.parquet" / f"part-0000{i}-x.snappy.parquet")
    assert cache_entry_problem(entry, {"n_features": 6}) is None
    next((entry / "features.parquet").glob("part-00001*")).unlink()
    assert "4 rows in its part files, 6 were written" in cache_entry_problem(entry, {"n_features": 6})
    (entry / "features.parquet" / "part-00002-x.snappy.parquet").write_bytes(b"PAR1 not really")
    assert "unreadable" in cache_entry_problem(entry, {"n_features": 6})


@pytest.fixture
def tiny_disk(tmp_path):
    "A real 1 MiB file system (tmpfs), unmounted afterwards."
    d = tmp_path / "disk"; d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(d)], capture_output=True, text=True)
    if r.returncode != 0: pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {r.stderr.strip()}")
    yield d
    subprocess.run(["umount", "-l", str(d)])


def fill(disk: Path, leave: int = 0):
    "Fill `disk` until at most `leave` bytes are free."
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while (free := shutil.disk_usage(disk).free) > leave:
            try: os.write(fd, b"\0" * min(1 << 16, max(4096, free - leave)))
            except OSError: break
    finally: os.close(fd)


def test_failed_status_is_written_on_a_full_disk(tiny_disk):
    from aerial_nb.pipeline import _read_status, _write_status
    run_dir = tiny_disk / "runs" / "r"; run_dir.mkdir(parents=True)
    _write_status(run_dir, status="running", step="02_featurize")
    assert (run_dir / ".disk-reserve.tmp").exists(), "a running run holds its reserve"
    fill(tiny_disk)
    with pytest.raises(OSError): (tiny_disk / "more").write_bytes(b"x" * 8192)
    _write_status(run_dir, status="failed", step="02_featurize", error="OSError: [Errno 28] No space left on device")
    assert _read_status(run_dir)["status"] == "failed"
    assert not (run_dir / ".disk-reserve.tmp").exists(), "given up"
    no_leftovers(tiny_disk)


def trained_run(outputs: Path, run_id: str, accuracy: float) -> Path:
    "A run folder as 03_train leaves it, as far as 04_compare reads it (metrics.json, params.yaml, its model folder)."
    d = outputs / "runs" / run_id; d.mkdir(parents=True)
    model = outputs / "models" / run_id; model.mkdir(parents=True)
    (d / "params.yaml").write_text(yaml.safe_dump({"sample_frac": 1.0, "run_name": "t"}))
    (d / "metrics.json").write_text(json.dumps({
        "accuracy": accuracy, "macro_f1": accuracy, "pretrained_model_type": "efficientnet-lite0",
        "classifier": "logistic_regression", "n_train": 6, "n_test": 2, "model_name": run_id, "model_path": str(model),
        "labels": ["field", "water"], "per_class": {"field": {"f1": accuracy}, "water": {"f1": accuracy}}}))
    return d


@pytest.mark.parametrize("damage", ["not-a-database", "locked"])
def test_compare_with_a_damaged_run_history_ranks_the_run_folders(tmp_path, capsys, damage):
    # Issue 31: a damaged or locked MLflow store made 04_compare fail the run with a raw SQLAlchemy error.
    import sqlite3
    from aerial_nb.compare import load_history, rank_runs
    from aerial_nb.settings import load_settings
    out = tmp_path / "o"
    for rid, acc in (("r1", 0.8), ("r2", 0.9)): trained_run(out, rid, acc)
    db = tmp_path / "mlflow.db"
    if damage == "not-a-database": db.write_bytes(b"this is not SQLite " * 100)
    else:
        lock = sqlite3.connect(db); lock.execute("create table t (x)"); lock.execute("begin exclusive")
    settings = load_settings(ROOT / "settings.ini", env={"AERIAL_NB_PATHS_OUTPUTS_DIR": str(out),
                                                         "AERIAL_NB_TRACKING_URI": f"sqlite:///{db}"})
    try: runs = load_history(settings)
    finally:
        if damage == "locked": lock.close()
    said = capsys.readouterr().out
    assert f"the run history sqlite:///{db} cannot be read" in said and "from their own folders" in said, said
    assert "Traceback" not in said and len(said.splitlines()) == 1, said
    assert rank_runs(runs).run_id.tolist() == ["r2", "r1"] and runs["f1.water"].tolist() == [0.8, 0.9]


# ---------------------------------------------------------------------------------------------------- real runs (slow)
@pytest.mark.slow
def test_corrupt_image_stops_the_run_naming_it(tmp_path, imgs):
    (imgs / "water" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    r = cli(*run_args(imgs, "--steps", "01_explore"), outputs=tmp_path)
    refused(r, "broken.jpg", "on_bad_image: skip")
    run_dir = next((tmp_path / "runs").iterdir())
    assert "broken.jpg" in (run_dir / "bad_images.csv").read_text()
    assert (run_dir / "notebooks" / "01_explore.ipynb").exists(), "the failing notebook is kept"
    assert json.loads((run_dir / "status.json").read_text())["status"] == "failed"
    assert not (run_dir / "manifest.parquet").exists(), "no manifest a later step could trust"



@pytest.mark.slow
def test_a_native_blas_that_cannot_be_loaded_falls_back_to_java_blas_and_is_recorded(tmp_path, imgs):
    # Issue 29: the run says which library failed and why, Spark ML computes with its Java BLAS, environment.json says so.
    lib = tmp_path / "no-such" / "libopenblas.so.0"
    r = cli(*run_args(imgs, "--run-id", "b", "--steps", "00_setup"), outputs=tmp_path,
            env={"AERIAL_NB_SPARK_NATIVE_BLAS": str(lib)})
    assert r.returncode == 0, r.stderr[-3000:]
    run_dir = tmp_path / "runs" / "b"
    blas = json.loads((run_dir / "environment.json").read_text())["blas"]
    assert blas["native"] is None and blas["native_lib"] == str(lib), blas
    assert "cannot open shared object file" in blas["native_problem"], blas
    assert blas["used"] == blas["java"] == "VectorBLAS", blas   # Java 17 with the Vector API, not the plain loops
    log = (run_dir / "logs" / "00_setup.log").read_text()
    assert f"the native BLAS {lib} ([spark] native_blas) could not be loaded" in log, log[-3000:]
    assert "falls back to its Java BLAS (VectorBLAS)" in log, log[-3000:]
    assert str(lib) in (run_dir / "notebooks" / "00_setup.ipynb").read_text(), "the executed notebook says it too"


REFERENCE_BLAS = Path("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3")   # Debian's libblas3: netlib's plain loops


@pytest.mark.slow
@pytest.mark.skipif(not REFERENCE_BLAS.exists(), reason="needs Debian's reference BLAS (libblas3, which gdal-bin pulls "
                    "in) to put first on the loader's path")
def test_the_systems_reference_blas_is_skipped_for_the_java_blas(tmp_path, imgs):
    # Issue 29: where libblas.so.3 is netlib's reference BLAS (GDAL's dependencies bring it on Debian), Spark ML ran
    # 2.5-4x slower with it than with the JDK's Vector API. Put it first on the loader's path, as a machine without
    # OpenBLAS has it: the run skips it, computes with VectorBLAS, and environment.json says why.
    lib_dir = tmp_path / "lib"
    lib_dir.mkdir()
    (lib_dir / "libblas.so.3").symlink_to(REFERENCE_BLAS)
    r = cli(*run_args(imgs, "--run-id", "r", "--steps", "00_setup"), outputs=tmp_path,
            env={"LD_LIBRARY_PATH": str(lib_dir)})
    assert r.returncode == 0, r.stderr[-3000:]
    blas = json.loads((tmp_path / "runs" / "r" / "environment.json").read_text())["blas"]
    assert blas["native"] is None and blas["native_lib"] == "libblas.so.3", blas
    assert "reference BLAS" in blas["native_skipped"], blas
    assert blas["used"] == blas["java"] == "VectorBLAS", blas

@pytest.mark.slow
def test_colon_in_a_file_name_is_named_by_explore(tmp_path, imgs):
    shutil.copy(imgs / "water" / "water0.png", imgs / "water" / "a:b.png")
    r = cli(*run_args(imgs, "--steps", "01_explore"), outputs=tmp_path)
    refused(r, "a:b.png", "':'", "rename the file")
    assert not any((tmp_path / "runs").rglob("manifest.parquet"))


@pytest.mark.slow
def test_a_run_history_that_fails_at_the_end_is_said_in_status(tmp_path, imgs):
    # Issue 31: the run ended `finished` with no word in status.json that the run history missed its end.
    db = tmp_path / "mlflow.db"; db.write_bytes(b"not SQLite " * 100)   # as unwritable as a full disk, here
    env = {"AERIAL_NB_TRACKING_URI": f"sqlite:///{db}"}
    r = cli(*run_args(imgs, "--run-id", "h", "--steps", "01_explore"), outputs=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    st = json.loads((tmp_path / "runs" / "h" / "status.json").read_text())
    assert st["status"] == "finished" and "not updated in" in st["history_error"] and "--resume" in st["history_error"]
    db.unlink()   # the store is back
    r = cli(*run_args(imgs, "--run-id", "h", "--resume"), outputs=tmp_path, env=env)
    assert r.returncode == 0 and "recorded in the run history now" in r.stdout, r.stdout + r.stderr


@pytest.mark.slow
def test_replace_starts_the_run_again(tmp_path, imgs):
    d = fake_run(tmp_path, imgs)
    r = cli(*run_args(imgs, "--run-id", "r1", "--replace", "--steps", "01_explore"), outputs=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "replaced: removed" in r.stdout and not (d / "old-result.txt").exists(), "nothing of the old run remains"
    assert json.loads((d / "status.json").read_text())["status"] == "finished" and (d / "manifest.parquet").exists()


@pytest.mark.slow
def test_full_disk_during_a_run(tmp_path, imgs, tiny_disk):
    out = tiny_disk / "outputs"; out.mkdir()
    fill(tiny_disk, leave=128 * 1024)   # room for the run folder and its reserve, not for the step's notebook and outputs
    r = cli(*run_args(imgs, "--run-id", "full", "--steps", "01_explore"), outputs=out,
            env={"AERIAL_NB_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"})
    refused(r, "full", "resume")
    st = json.loads((out / "runs" / "full" / "status.json").read_text())
    assert st["status"] == "failed", st
    no_leftovers(out / "runs")


def wait_for(cond, timeout: float, what: str):
    t0 = time.time()
    while not cond():
        if time.time() - t0 > timeout: raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_featurize_marks_the_run_failed_and_cleans_up(tmp_path, sig):
    from aerial_nb.testing import make_fixture_images
    imgs = make_fixture_images(tmp_path / "imgs", per_class=10)
    out = tmp_path / "o"
    args = [str(EXE), *run_args(imgs, "--run-id", "sig", "--steps", "01_explore,02_featurize")]
    # The run's Spark keeps its temporary folders (~200 MB: a copy of SynapseML's jars) here instead of in /tmp.
    spark_local = tmp_path / "spark-local"; spark_local.mkdir()
    p = subprocess.Popen(args, cwd=ROOT, env=cli_env(out, SPARK_LOCAL_DIRS=str(spark_local)), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        # The features are being written: Spark's temporary folder exists.
        wait_for(lambda: leftovers(out / "features") or p.poll() is not None, 600, "featurize to start writing")
        assert p.poll() is None, p.communicate()
        p.send_signal(sig)
        stdout, stderr = p.communicate(timeout=120)
    finally:
        if p.poll() is None: p.kill()
    assert p.returncode == 128 + sig, (p.returncode, stderr[-3000:])
    assert "Traceback" not in stdout + stderr and len(stderr) < 1000, stderr[-3000:]
    assert f"stopped by {sig.name} during 02_featurize" in stderr and "--resume" in stderr, stderr
    st = json.loads((out / "runs" / "sig" / "status.json").read_text())
    assert st["status"] == "failed" and st["step"] == "02_featurize", st
    assert not leftovers(out / "features"), "no half-written features"
    assert not list((out / "features").glob("[!.]*")), "no cache entry from an interrupted job"
    # The kernel's JVM was stopped, not killed: Spark's shutdown hooks deleted its temporary folders.
    assert not list(spark_local.iterdir()), f"Spark's temporary folders left behind: {list(spark_local.iterdir())}"
    if sig == signal.SIGTERM:
        # resume: only the unfinished step runs, and the run finishes
        r = cli(*run_args(imgs, "--run-id", "sig", "--resume"), outputs=out, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "resumed: 02_featurize" in r.stdout and "01_explore" not in r.stdout.split("resumed:")[1], r.stdout
        st = json.loads((out / "runs" / "sig" / "status.json").read_text())
        assert st["status"] == "finished" and set(st["timings"]) == {"01_explore", "02_featurize"}, st
        # a damaged cache entry (a part file lost) is detected and rebuilt, never read
        entry = next(p for p in (out / "features").iterdir() if not p.name.startswith("."))
        next((entry / "features.parquet").glob("part-*.parquet")).unlink()
        r = cli(*run_args(imgs, "--run-id", "sig2", "--steps", "01_explore,02_featurize"), outputs=out, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
        info = json.loads((out / "runs" / "sig2" / "features.json").read_text())
        assert info["cached"] is False and "rows in its part files" in info["rebuilt"], info
        assert info["n_features"] == 30


@pytest.mark.slow
def test_ctrl_c_stops_a_sweep(tmp_path):
    # Issue 31: SIGINT to `aerial-nb sweep` failed one point, started another, let two finish, ran compare on 3 of 4
    # points and exited 1. Now: no point starts after it, the running ones stop within the grace, no compare, exit 130.
    import pandas as pd
    import psutil
    from aerial_nb.testing import make_fixture_images
    imgs = make_fixture_images(tmp_path / "imgs", per_class=6)
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"run_name": "cc", "images_dir": str(imgs), "featurizer_backend": "onnxruntime",
                                    "score_raster": "", "test_frac": 0.34, "sample_frac": [1.0, 0.5],
                                    "classifier": ["logistic_regression", "random_forest"]}))
    out = tmp_path / "o"
    spark_local = tmp_path / "spark-local"; spark_local.mkdir()
    p = subprocess.Popen([str(EXE), "sweep", str(grid), "--jobs", "2"], cwd=ROOT,
                         env=cli_env(out, SPARK_LOCAL_DIRS=str(spark_local),
                                     AERIAL_NB_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    def featurizing():   # a point in a Spark step: its kernel and JVM are up
        return [d for d in (out / "runs").glob("*/status.json") if '"step": "02_featurize"' in d.read_text()]
    try:
        wait_for(lambda: featurizing() or p.poll() is not None, 900, "a point to featurize")
        assert p.poll() is None, p.communicate()
        started = {d.name for d in (out / "runs").iterdir()}
        family = psutil.Process(p.pid).children(recursive=True)   # workers, their kernels and JVMs
        t0 = time.time()
        p.send_signal(signal.SIGINT)   # to the sweep alone, as `kill -INT`; a terminal's Ctrl-C reaches it alone too
        stdout, stderr = p.communicate(timeout=240)
        stop_s = time.time() - t0
    finally:
        if p.poll() is None: p.kill()
    assert p.returncode == 130, (p.returncode, stdout[-2000:], stderr[-3000:])
    assert "Traceback" not in stdout + stderr, stderr[-3000:]
    for w in ["stopped by SIGINT", "not started", "compare skipped", "Run the same command again"]:
        assert w in stderr, (w, stderr)
    assert stop_s < 90, f"the sweep took {stop_s:.0f} s to stop"
    assert {d.name for d in (out / "runs").iterdir()} == started, "no point started after the signal"
    table = pd.read_csv(next((out / "sweeps").iterdir()) / "runs.csv")
    assert set(table.status) <= {"stopped", "not started", "finished"} and (table.status == "not started").any(), table
    for d in (out / "runs").iterdir():
        st = json.loads((d / "status.json").read_text())
        assert st["status"] in ("failed", "finished"), st
    assert not (out / "best_model.json").exists(), "no best model chosen from a part of the grid"
    psutil.wait_procs(family, timeout=10)
    assert not [q for q in family if q.is_running() and q.status() != psutil.STATUS_ZOMBIE], "no worker, kernel or JVM left"
    # The rerun runs every point that did not finish, and only those.
    r = cli("sweep", grid, "--dry-run", outputs=out, env={"AERIAL_NB_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"})
    assert r.returncode == 0 and f"{(table.status != 'finished').sum()} to run" in r.stdout, r.stdout + r.stderr


# ---------------------------------------------------------------------------------------------------- local labels
def _labels_run(tmp_path: Path, rows: list[dict], *, bands: int = 4, judging: list[dict] | None = None, views="[full]",
                round2: list[dict] | None = None):
    """A run on a labels CSV of `rows` (and a second round's CSV of `round2`) over one fixture raster (and a judging
    sample of `judging`): its command's result."""
    import pandas as pd
    from aerial_nb.labels import LABEL_COLUMNS
    from aerial_nb.testing import make_fixture_geotiff
    raster = make_fixture_geotiff(tmp_path / "rasters" / "m_1_20200831.tif", width=200, height=160, bands=bands,
                                  nodata_corner=False)
    import rasterio
    with rasterio.open(raster) as src: x0, y0 = src.transform * (0, 0)
    def row(r):
        x, y = x0 + r["col"] * 5.0, y0 - r["row"] * 5.0
        return {**{c: "" for c in LABEL_COLUMNS}, "tile_id": r["id"], "year": 2020, "acq_date": "20200831",
                "source": raster.name, "crs": "EPSG:26914", "center_x": x, "center_y": y, "footprint_m": 160,
                "label": r.get("label", "water"), "confidence": "clear", "selection": "random"}
    pd.DataFrame([row(r) for r in rows]).to_csv(tmp_path / "train.csv", index=False)
    labels = str(tmp_path / "train.csv")
    if round2 is not None:
        pd.DataFrame([row(r) for r in round2]).to_csv(tmp_path / "train2.csv", index=False)
        labels = f"[{labels}, {tmp_path / 'train2.csv'}]"
    extra = ["--set", "reference_csv="]   # the fixture raster lies where the NAIP clips do: not their judging sample
    if judging is not None:
        pd.DataFrame([{**row(r), "stratum": "2020:water", "stratum_units": 10, "inclusion_prob": 0.1}
                      for r in judging]).to_csv(tmp_path / "judge.csv", index=False)
        extra = ["--set", f"reference_csv={tmp_path / 'judge.csv'}"]
    return cli("run", "params/default.yaml", "--set", f"labels_csv={labels}", "--set",
               f"score_raster={raster.parent}", "--set", f"views={views}", *extra, outputs=tmp_path / "out")


def test_labels_with_a_bad_row_name_it_and_train_nothing(tmp_path):
    r = _labels_run(tmp_path, [{"id": "ok", "row": 80, "col": 100}, {"id": "far", "row": 80, "col": 5000},
                               {"id": "tundra", "row": 80, "col": 60, "label": "tundra"}])
    refused(r, "train.csv row 3 (far)", "not inside the raster", "row 4 (tundra)", "unknown class 'tundra'")
    assert not (tmp_path / "out" / "runs").exists() or not any((tmp_path / "out" / "runs").iterdir())


def test_training_squares_on_judging_ground_are_refused_naming_both(tmp_path):
    r = _labels_run(tmp_path, [{"id": "t1", "row": 80, "col": 100}, {"id": "t2", "row": 80, "col": 40}],
                    judging=[{"id": "j1", "row": 85, "col": 110}])
    refused(r, "t1 overlaps j1", "share ground")


def test_a_second_rounds_bad_row_or_judging_ground_is_named_with_its_file(tmp_path):
    # labels_csv lists labeling rounds: each file's rows are checked, named by file and row.
    ok = [{"id": "t1", "row": 80, "col": 100}, {"id": "t2", "row": 80, "col": 40}]
    r = _labels_run(tmp_path, ok, round2=[{"id": "far", "row": 80, "col": 5000}])
    refused(r, "train2.csv row 2 (far)", "not inside the raster")
    r = _labels_run(tmp_path, ok[1:], round2=ok[:1], judging=[{"id": "j1", "row": 85, "col": 110}])
    refused(r, "t1 overlaps j1", "share ground")


def test_a_raster_without_nir_for_a_model_that_looks_at_it_is_refused_before_any_work(tmp_path):
    r = _labels_run(tmp_path, [{"id": "a", "row": 80, "col": 100}, {"id": "b", "row": 80, "col": 40}], bands=3,
                    views="[full, falsecolor]")
    refused(r, "m_1_20200831.tif", "3 band(s)", "near-infrared")
