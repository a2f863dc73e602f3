"""Execute the notebooks that are not pipeline steps on their fixtures, as `nbdev-test` does, keeping the outputs.

The pipeline steps get their outputs from a real run (`aerial-nb run`); the other notebooks (model zoo, storage,
cluster, tiles, CLI, sweeps, ...) are documented by their own examples and tests. This runs each exactly as nbdev-test
would (same skipped flags, same working folder, same cell timeout) and writes the executed copy to the output folder
instead of over the clean notebook in nbs/, which stays clean. `make docs-run` calls it; docs/stage.py picks the
copies up.
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))   # docs/stage.py: where runs are written, and what a stale copy is


def execute(nb: str, dest: str) -> tuple[str, bool, float]:
    "Run notebook `nb` with nbdev's test runner; on success its executed copy goes to `dest`."
    import nbdev.test
    from fastcore.nbio import write_nb
    from fastcore.xtras import working_directory
    from nbdev.config import get_config
    cfg = get_config(ROOT)
    flags = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags)
    out = Path(dest) / Path(nb).name
    # test_nb's save=True writes back over its input: send that write to `dest` instead.
    nbdev.test.write_nb = lambda notebook, fn: write_nb(notebook, out)
    with working_directory(cfg.nbs_path):
        ok, secs = nbdev.test.test_nb(nb, skip_flags=flags, basepath=cfg.config_path, save=True,
                                      cell_timeout=int(cfg.get("cell_timeout", 600)) or None)
    return Path(nb).name, ok, secs


def fresh_copy(nb: Path, executed: Path) -> bool:
    "Whether `executed` exists and ran the code `nb` has now (the test docs/stage.py uses to call a page stale)."
    import nbformat
    from stage import code_of
    if not executed.is_file(): return False
    try: return code_of(nbformat.read(executed, as_version=4)) == code_of(nbformat.read(nb, as_version=4))
    except Exception: return False   # an unreadable copy is executed again


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, help="folder for the executed copies (default: <outputs_dir>/docs/notebooks, "
                                              "where docs/stage.py looks)")
    ap.add_argument("notebooks", nargs="*", help="notebooks to run (default: every notebook of nbs/ but the steps)")
    ap.add_argument("--all", action="store_true", help="the pipeline steps too, on their fixtures: for a site built "
                                                         "where there is no real data (no run to take them from)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--stale", action="store_true", help="only the notebooks without an executed copy in --dest, or "
                                                         "whose code changed since it was executed (`make docs`)")
    a = ap.parse_args(argv)
    from aerial_nb.pipeline import STEPS
    nbs = [Path(n).resolve() for n in a.notebooks] or \
          [p for p in sorted((ROOT / "nbs").glob("*.ipynb")) if (a.all or p.stem not in STEPS) and p.stem != "index"]
    if a.dest is None:
        from stage import outputs_dir
        a.dest = outputs_dir() / "docs" / "notebooks"
    a.dest.mkdir(parents=True, exist_ok=True)
    if a.stale:
        nbs = [nb for nb in nbs if not fresh_copy(nb, a.dest / nb.name)]
        if not nbs: return print(f"every notebook's executed copy in {a.dest} is up to date")
    t0, failed = time.time(), []
    # A fresh process per notebook, as isolated as nbdev-test's: the notebook's IPython shell takes over `__main__`,
    # so a process that ran one notebook cannot even unpickle the next task.
    with ProcessPoolExecutor(a.jobs, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool:
        for name, ok, secs in pool.map(execute, map(str, nbs), [str(a.dest.resolve())] * len(nbs)):
            print(f"  {name:<28} {'ok' if ok else 'FAILED'} {secs:6.1f} s", flush=True)
            if not ok: failed.append(name)
    print(f"executed {len(nbs) - len(failed)}/{len(nbs)} notebooks into {a.dest} in {time.time() - t0:.0f} s")
    if failed: sys.exit(f"failed: {', '.join(failed)} (their pages keep the clean notebook; see the errors above)")


if __name__ == "__main__":
    main()
