"""Which notebooks the fast tier (`make test-fast`) leaves to the full suite (`make test`).

A notebook goes to the full suite when one of the test cells that `nbdev-test` runs starts a Spark session
(`get_spark(`) or a standalone cluster (`StandaloneCluster(`, as 90_testing does): each such notebook costs one to
several minutes of JVMs, against seconds for the others. The rule is read from the notebooks every time, so a notebook
that starts Spark in a new test moves to the full suite by itself, and one that stops doing so comes back to the fast
tier.

    python tests/notebook_tiers.py            # the notebooks left to the full suite, one a line
    python tests/notebook_tiers.py --skip-re  # the same as nbdev-test's --skip-file-re (its default ^[_.] kept)
"""
import json
import re
import sys
from pathlib import Path

NBS = Path(__file__).resolve().parents[1] / "nbs"
STARTS_SPARK = ("get_spark(", "StandaloneCluster(")   # a Spark session; a standalone master and its workers
SKIPPED_FLAGS = {"export", "exports", "exporti", "notest", "slow"}   # cells nbdev-test does not run as tests (tst_flags)


def _directives(src: str) -> set[str]:
    "The `#| name` directives at the top of a cell."
    names = set()
    for line in src.splitlines():
        m = re.match(r"\s*#\|\s*(\w+)", line)
        if not m: break
        names.add(m.group(1))
    return names


def starts_spark(nb_path: Path) -> bool:
    "Whether a test cell of the notebook (one nbdev-test runs) starts a Spark session or a standalone cluster."
    cells = json.loads(nb_path.read_text())["cells"]
    return any(call in src for c in cells if c["cell_type"] == "code"
               for src in ["".join(c["source"])] if not _directives(src) & SKIPPED_FLAGS for call in STARTS_SPARK)


def full_suite_only(nbs: Path = NBS) -> list[str]:
    "Names (no suffix) of the notebooks that only `make test` runs."
    return sorted(p.stem for p in nbs.glob("*.ipynb") if starts_spark(p))


def skip_re(names: list[str]) -> str:
    "nbdev-test's --skip-file-re for `names`, keeping its default (files starting with _ or .)."
    return r"^([_.]|(" + "|".join(map(re.escape, names)) + r")\.ipynb$)"


if __name__ == "__main__":
    names = full_suite_only()
    print(skip_re(names) if sys.argv[1:] == ["--skip-re"] else "\n".join(names))
