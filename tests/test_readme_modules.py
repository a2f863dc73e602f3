"The README's module table names every notebook and the module it exports (nbs/index.ipynb is written into README.md)."
import re

from helpers import ROOT


def module_table() -> dict[str, str]:
    "notebook -> module cell of each row of the README's first table (a row may name two notebooks and two modules)."
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        m = re.match(r"^\| (`\d\d[^|]*) \|.*\| (`aerial_nb\.[^|]*) \|$", line)
        if m: rows.update({nb: m.group(2) for nb in re.findall(r"`([^`]+)`", m.group(1))})
    return rows


def test_every_notebook_and_module_is_in_the_readme():
    table = module_table()
    notebooks = {p.stem for p in (ROOT / "nbs").glob("[0-9]*.ipynb")}
    assert notebooks - set(table) == set(), f"notebooks missing from the README's module table: {notebooks - set(table)}"
    assert set(table) - notebooks == set(), \
        f"the README's module table names notebooks that do not exist: {set(table) - notebooks}"
    modules = {p.stem for p in (ROOT / "aerial_nb").glob("*.py") if not p.stem.startswith("_")}
    named = {m for cell in table.values() for m in re.findall(r"`aerial_nb\.(\w+)`", cell)}
    assert modules - named == set(), f"modules missing from the README's module table: {modules - named}"
