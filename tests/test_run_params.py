"""The run parameters have one home, `aerial_nb.run_params.RunParams`: the step notebooks' `parameters` cells, the
default parameter file and the README's table must agree with it. Fast tier: no Spark session."""
import ast
import json
import shutil
from pathlib import Path

import pytest

from aerial_nb.cli import write_params_table
from aerial_nb.pipeline import STEPS, check_step_parameters, declared_parameters
from aerial_nb.run_params import RUN_PARAMS, RUNNER_VALUES, RunParams, load_params, problems

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
DEFAULTS = {p.name: p.default for p in RUN_PARAMS}


def same_value(a, b) -> bool:
    "Equal as parameter values: 0 and 0.0 are, False and 0 are not."
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def mismatches(nb_path: Path, step: bool) -> list[str]:
    """What a notebook's parameters cell declares against `RunParams`: a different default, and (for a step the runner
    executes) a name that is neither a run parameter nor a value the runner gives."""
    out = []
    for name, source in declared_parameters(nb_path).items():
        if name in DEFAULTS:
            value = ast.literal_eval(source)
            if not same_value(value, DEFAULTS[name]):
                out.append(f"{nb_path.name}: {name} = {value!r}, RunParams' default is {DEFAULTS[name]!r}")
        elif step and name not in RUNNER_VALUES:
            out.append(f"{nb_path.name}: {name} is not in RunParams")
    return out


def parameter_notebooks() -> list[Path]:
    "The numbered notebooks (nbs/0*.ipynb) with a parameters cell."
    return [p for p in sorted(NBS.glob("0*.ipynb"))
            if any("parameters" in c["metadata"].get("tags", []) for c in json.loads(p.read_text())["cells"])]


@pytest.mark.parametrize("nb", parameter_notebooks(), ids=lambda p: p.stem)
def test_notebook_parameters_match_run_params(nb):
    # Step notebooks: every name a run parameter (or the runner's own), every default RunParams'. The other numbered
    # notebooks (03a_tracking, 05a_region) are not run by the runner and keep their own names, but a run parameter
    # they declare has its default.
    assert mismatches(nb, step=nb.stem in STEPS) == []


def test_the_check_fails_on_a_typo_and_on_another_default(tmp_path):
    nb = json.loads((NBS / "01_explore.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    cell["source"] = ["".join(cell["source"]).replace("sample_frac =", "sample_frc =").replace("seed = 42", "seed = 7")]
    (tmp_path / "01_explore.ipynb").write_text(json.dumps(nb))
    found = mismatches(tmp_path / "01_explore.ipynb", step=True)
    assert any("sample_frc is not in RunParams" in m for m in found), found
    assert any("seed = 7, RunParams' default is 42" in m for m in found), found


def test_every_run_parameter_reaches_a_step():
    declared = check_step_parameters(NBS)   # the runner's own check: raises when one is declared by no step
    reached = {k for d in declared.values() for k in d}
    assert {p.name for p in RUN_PARAMS if not p.runner_only} <= reached


def test_runner_refuses_a_parameter_no_step_declares(tmp_path):
    for s in STEPS: shutil.copy(NBS / f"{s}.ipynb", tmp_path)
    nb = json.loads((tmp_path / "02_featurize.ipynb").read_text())
    for c in nb["cells"]:
        if "parameters" in c["metadata"].get("tags", []):
            c["source"] = [line for line in c["source"] if not line.startswith("tta =")]
    (tmp_path / "02_featurize.ipynb").write_text(json.dumps(nb))
    with pytest.raises(ValueError, match="run parameter\\(s\\) tta are declared by no step notebook"):
        check_step_parameters(tmp_path)


def test_default_yaml_lists_every_parameter_in_order_and_is_valid():
    # params/default.yaml is the run `make run` makes (the NAIP map from its labeled squares): its values differ from
    # RunParams' defaults on purpose, with the reasons in its comments, so it is written by hand and held here to
    # RunParams: every parameter, in RunParams' order, nothing else, every value valid.
    given = load_params(ROOT / "params" / "default.yaml")
    assert list(given) == list(DEFAULTS)
    assert problems(given) == []


@pytest.mark.parametrize("name", ["ucmerced", "eurosat"])
def test_other_parameter_files_are_valid(name):
    assert problems(load_params(ROOT / "params" / f"{name}.yaml")) == []


def test_readme_parameter_table_is_written_from_run_params(tmp_path):
    copy = tmp_path / "index.ipynb"
    shutil.copy(NBS / "index.ipynb", copy)
    assert not write_params_table(copy, ROOT / "params" / "default.yaml"), \
        "nbs/index.ipynb's parameter table is out of date: run `aerial-nb readme` (make readme)"
    for p in RUN_PARAMS: assert f"| `{p.name}` |" in (ROOT / "README.md").read_text(), p.name


def test_function_defaults_are_run_params():
    import dataclasses
    import inspect
    from aerial_nb.featurize import featurize_step
    from aerial_nb.recipe import Featurizer
    from aerial_nb.train import TrainOptions
    sig = inspect.signature(featurize_step).parameters
    assert sig["on_bad_image"].default == RunParams.on_bad_image
    # The backend and TTA are the featurizer's: one built without them computes features as a run does by default.
    fields = {f.name: f.default for f in dataclasses.fields(Featurizer)}
    assert (fields["backend"], fields["tta"]) == (RunParams.featurizer_backend, RunParams.tta)
    built = inspect.signature(Featurizer.from_params).parameters
    assert (built["backend"].default, built["tta"].default) == (RunParams.featurizer_backend, RunParams.tta)
    # How a run trains: TrainOptions' defaults are the run parameters' of the same names.
    for name in ("classifier", "seed", "cv_folds", "tune_folds", "network_pca", "class_weights", "output_model_name",
                 "overwrite_model"):
        assert getattr(TrainOptions(), name) == getattr(RunParams, name), name


def test_every_parameters_cell_says_what_runparams_says():
    """A parameter's help lives in `RunParams` only: each step notebook's parameters cell carries it as `aerial-nb
    readme` writes it (make check-sync regenerates them), so a changed help or a hand-edited comment fails here."""
    from aerial_nb.cli import parameters_source
    for step in STEPS:
        nb = json.loads((NBS / f"{step}.ipynb").read_text())
        cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
        src = "".join(cell["source"])
        assert src == parameters_source(src), f"{step}: parameters cell differs from RunParams' help; run make readme"


def test_finetune_epochs_is_refused_beside_cv_folds_and_without_a_network():
    # A network tuned on the training split has seen every cross-validation fold's test images; band-stats has nothing
    # to tune (aerial_nb.finetune).
    found = [p.message for p in problems({"finetune_epochs": 8, "cv_folds": 5})]
    assert any("finetune_epochs 8 with cv_folds 5" in m for m in found), found
    found = [p.message for p in problems({"finetune_epochs": 8, "pretrained_model_type": "band-stats"})]
    assert any("has none: add one" in m for m in found), found
    found = [p.message for p in problems({"finetune_epochs": -1})]
    assert any("whole number >= 0" in m for m in found), found
    assert problems({"finetune_epochs": 8}) == []


def test_labels_csv_is_a_file_or_a_list_of_files():
    # Labeling rounds stay in their own files (params/default.yaml lists three).
    assert problems({"labels_csv": "a.csv"}) == [] and problems({"labels_csv": ["a.csv", "b.csv"]}) == []
    for bad in ([], ["a.csv", ""], ["a.csv", 3], 3):
        found = [p.message for p in problems({"labels_csv": bad})]
        assert any("labels_csv must be a path or a list of paths" in m for m in found), (bad, found)
