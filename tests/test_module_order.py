"""The notebooks are numbered in the order of their dependencies: a module imports only modules of lower-numbered
notebooks, or the helpers of its own step (05_score → 05a_region). The exceptions are named, with their reason, in the
README ("Working on it"); a new one fails here until it is named there. Fast tier: reads the exported sources."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "aerial_nb"


def notebook_of() -> dict[str, str]:
    "module → the notebook it is exported from (its number and name, e.g. 05a_region)."
    out = {}
    for p in PKG.glob("*.py"):
        m = re.search(r"File to edit: \.\./nbs/(\S+)\.ipynb", p.read_text())
        if m: out[p.stem] = m.group(1)
    return out


def later_imports() -> set[tuple[str, str]]:
    """(module, imported module) where the import points to a later notebook that is not one of the module's own
    step helpers."""
    nb, found = notebook_of(), set()
    for mod, name in nb.items():
        number = name.split("_", 1)[0]
        for dep in re.findall(r"^\s*from \.(\w+) import", (PKG / f"{mod}.py").read_text(), re.M):
            dep_number = nb.get(dep, "").split("_", 1)[0]
            own_helper = dep_number[:2] == number and len(number) == 2   # 05_score → 05a_region
            if dep in nb and dep_number > number and not own_helper: found.add((mod, dep))
    return found


def named_exceptions() -> set[tuple[str, str]]:
    "The exceptions the README's table names: rows `| module (00a) | imported (00e), … | why |`."
    text = (ROOT / "README.md").read_text()
    table = text[text.index("Imports that point to a later notebook"):]
    out = set()
    for row in re.findall(r"^\| `(\w+)` \(\w+\) \| (.+?) \|", table, re.M):
        for dep in re.findall(r"`(\w+)`", row[1]): out.add((row[0], dep))
    return out


def test_every_import_of_a_later_notebook_is_named_in_the_readme():
    found, named = later_imports(), named_exceptions()
    assert found, "the check finds none at all: the export headers it reads have changed"
    unnamed = sorted(found - named)
    assert not unnamed, (f"{unnamed}: a module imports a later-numbered one; import from a lower-numbered notebook, or "
                         "name it with its reason in the README's table (nbs/index.ipynb, Working on it)")
    stale = sorted(named - found)
    assert not stale, f"{stale}: named in the README's table but no longer imported; drop the row"
