"""Stage the documentation site's pages into _proc/docs/ for MkDocs (`make docs` runs this, then `mkdocs build`).

Every notebook of nbs/ becomes a page. Where an executed copy exists it is used instead of the clean source, so the
page shows real outputs while the committed notebooks stay clean:
- the pipeline steps (00_setup … 06_visualize): the executed notebooks of a finished run, the newest one under
  outputs/runs/ unless `--run` names one (`make docs-run` makes or reuses it);
- the other notebooks: the copies `make docs` executed on their fixtures into outputs/docs/notebooks/ (docs/execute.py).
nbdev's cell directives are applied as nbdev's own site would: `#| hide` cells are left out, directive lines dropped.
The run's maps and plots are copied beside a page that describes the run; an API page per module comes from the
docstrings (mkdocstrings). A generated mkdocs.yml in _proc/ inherits the project's and adds the navigation.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS, PROC = ROOT / "nbs", ROOT / "_proc"
DOCS = PROC / "docs"
DIRECTIVE = re.compile(r"^\s*#\s*\|\s*(.*)$")
# Notebooks that are not pages: nbval's output checks live in nbs/_nbval (folders starting with _ are skipped).
# The steps with their lettered helpers beside them (00, 00a, 00b, 01, ...), as nbdev orders them; then how to run;
# then the test support (90_testing).
SECTIONS = [("Pipeline steps and helpers", re.compile(r"^0\d[a-z]?_")),
            ("Running and scaling", re.compile(r"^1\d[a-z]?_")),
            ("Test support", re.compile(r"^9\d[a-z]?_"))]


def outputs_dir() -> Path:
    "Where runs are written: settings.ini's [paths] outputs_dir, as the pipeline itself reads it."
    sys.path.insert(0, str(ROOT))
    from aerial_nb.settings import load_settings
    return load_settings(ROOT / "settings.ini").path("paths", "outputs_dir")


def newest_finished_run(outputs: Path) -> Path | None:
    "The newest run folder whose status.json says finished (run ids start with their UTC time, so names sort)."
    for run in sorted((outputs / "runs").glob("*/status.json"), reverse=True):
        try:
            if json.loads(run.read_text()).get("status") == "finished": return run.parent
        except (OSError, json.JSONDecodeError): continue
    return None


def directives(cell) -> tuple[set[str], str]:
    "nbdev's `#| word` directives at the top of a code cell, and the source without them."
    lines, found = cell.source.splitlines(), set()
    while lines and (m := DIRECTIVE.match(lines[0])):
        found.update(m.group(1).split()[:1]); lines.pop(0)
    return found, "\n".join(lines).strip("\n")


def page_cells(nb) -> list:
    "The cells a reader sees: no `#| hide` cells, no `#| default_exp` line, no empty code cells."
    keep = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            found, src = directives(cell)
            if "hide" in found or not src: continue
            cell.source = src
            cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
        keep.append(cell)
    return keep


def code_of(nb) -> list[str]:
    """The code cells' sources, to tell whether outputs are stale: papermill's injected-parameters cell and the cells
    tagged `fixture` (tests on fixtures, which a run leaves out: aerial_nb.pipeline.run_copy) left out."""
    return [c.source.strip() for c in nb.cells if c.cell_type == "code"
            and not {"injected-parameters", "fixture"} & set(c.metadata.get("tags", []))]


def stage_notebook(src: Path, executed: Path | None, origin: str, stale: list[str], dest: Path = DOCS) -> str:
    "Write the page of notebook `src` (from its executed copy when there is one, saying so); return the page's title."
    clean = nbformat.read(src, as_version=4)
    nb = clean
    if executed and executed.is_file():
        nb = nbformat.read(executed, as_version=4)
        # Outputs of an older version of the notebook would document code that no longer exists: say so.
        if code_of(nb) != code_of(clean): stale.append(f"{src.name} (executed copy {executed})")
    else:
        origin = "none: this page shows the notebook as committed (`make docs-run` executes it)."
    nb.cells = page_cells(nb)
    if src.stem != "index":
        # Where the outputs come from, under the title: a reader must know whether they see a real run or fixtures.
        at = next((i + 1 for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), 0)
        nb.cells.insert(at, nbformat.v4.new_markdown_cell(f"> **Outputs on this page:** {origin}"))
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")}
    nbformat.write(nb, dest / src.name)
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    m = re.search(r"^#\s+(.+)$", first, re.M)
    return m.group(1).strip() if m else src.stem


def module_of(src: Path) -> str | None:
    "The module a notebook exports (`#| default_exp name`)."
    for cell in nbformat.read(src, as_version=4).cells:
        m = re.search(r"^\s*#\s*\|\s*default_exp\s+(\S+)", cell.source, re.M) if cell.cell_type == "code" else None
        if m: return m.group(1)
    return None


def stage_run(run: Path) -> list[str]:
    "A page about the run the step pages come from, with its maps and plots copied beside it; returns its files."
    dest = DOCS / "run"
    dest.mkdir(parents=True)
    status = json.loads((run / "status.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").is_file() else {}
    lines = [f"# The run behind these pages", "",
             f"The pipeline step pages show the executed notebooks of run `{run.name}` (`make docs-run`).", ""]
    if metrics:
        keep = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
        lines += ["| metric | value |", "|---|---|", *[f"| `{k}` | {v} |" for k, v in keep.items()], ""]
    lines += ["| step | seconds |", "|---|---|",
              *[f"| {k} | {float(v):.1f} |" for k, v in status.get("timings", {}).items()], ""]
    files = []
    for pattern in ("*.html", "maps/*.html", "maps/*.png", "plots/*.png"):
        for f in sorted(run.glob(pattern)):
            rel = f.relative_to(run)
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest / rel)
            files.append(rel.as_posix())
    maps, plots = [f for f in files if f.endswith(".html")], [f for f in files if f.endswith(".png")]
    if maps:
        lines += ["## Maps", "", "Self-contained pages (Leaflet inlined, no network needed):", "",
                  *[f"- [{f}]({f})" for f in maps], ""]
    if plots:
        lines += ["## Plots", "", *[f"![{f}]({f})\n\n`{f}`\n" for f in plots]]
    params = run / "params.yaml"
    if params.is_file():
        lines += ["## Parameters", "", "```yaml", params.read_text().rstrip(), "```", ""]
    (dest / "index.md").write_text("\n".join(lines))
    return files


def stage(run: Path | None, executed_dir: Path) -> dict:
    if DOCS.exists(): shutil.rmtree(DOCS)
    (DOCS / "api").mkdir(parents=True)
    # scripts the site would otherwise take from a CDN (their README.md stays out: it is not a page)
    shutil.copytree(Path(__file__).parent / "vendor", DOCS / "vendor", ignore=shutil.ignore_patterns("*.md"))
    from aerial_nb.pipeline import STEPS
    stale, nav_sections, api = [], {name: [] for name, _ in SECTIONS}, []
    other = []
    for src in sorted(NBS.glob("*.ipynb")):
        if run and src.stem in STEPS:
            executed, origin = run / "notebooks" / src.name, f"executed by the pipeline in run `{run.name}` on real data " \
                                                             f"([the run](run/index.html)): `aerial-nb run`, as `make docs-run` does."
        else:
            executed, origin = executed_dir / src.name, "executed on the notebook's own fixtures, as `nbdev-test` runs it " \
                                                        "(`make docs`)."
        title = stage_notebook(src, executed, origin, stale)
        if src.stem == "index": continue
        section = next((name for name, pat in SECTIONS if pat.match(src.name)), None)
        (nav_sections[section] if section else other).append({title: src.name})
        if mod := module_of(src):
            (DOCS / "api" / f"{mod}.md").write_text(f"# aerial_nb.{mod}\n\nFrom [{src.name}](../{src.name}).\n\n"
                                                     f"::: aerial_nb.{mod}\n")
            api.append({f"aerial_nb.{mod}": f"api/{mod}.md"})
    nav = [{"Home": "index.ipynb"}, *[{k: v} for k, v in nav_sections.items() if v]]
    if other: nav.append({"Other notebooks": other})
    nav.append({"API reference": sorted(api, key=lambda d: next(iter(d)))})
    if run:
        stage_run(run)
        nav.append({"The run behind these pages": "run/index.md"})
    config = {"INHERIT": "../mkdocs.yml", "docs_dir": "docs", "site_dir": "../_docs",
              "hooks": [str(Path(__file__).parent / "hooks.py")], "nav": nav}
    (PROC / "mkdocs.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return {"run": run, "stale": stale, "pages": sum(1 for _ in DOCS.rglob("*.ipynb")) + len(api) + bool(run)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="run folder whose executed step notebooks to show (default: newest finished)")
    ap.add_argument("--executed", type=Path, help="folder of executed copies of the other notebooks "
                                                  "(default: <outputs_dir>/docs/notebooks)")
    a = ap.parse_args(argv)
    outputs = outputs_dir()
    run = a.run or newest_finished_run(outputs)
    if run and not (run / "notebooks").is_dir():
        sys.exit(f"--run {run}: no notebooks/ folder there; pass a run folder made by `aerial-nb run`.")
    r = stage(run, a.executed or outputs / "docs" / "notebooks")
    print(f"staged {r['pages']} pages in {DOCS.relative_to(ROOT)}"
          + (f", step outputs from run {run.name}" if run else ", no finished run: step pages without outputs "
             "(make docs-run makes one)"))
    for s in r["stale"]:
        print(f"warning: code changed since it was executed, outputs may be stale (make docs executes the notebooks again, make docs-run the steps): {s}", file=sys.stderr)


if __name__ == "__main__":
    main()
