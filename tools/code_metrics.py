"""Figures on the library's shape, for issue 13's before/after: module and function sizes, imports of sibling
modules inside functions, import cycles, private names used across modules, long lines; and the notebooks' rhythm
(issue 30): export cells (their lines and functions), public functions used in the cells right after their own,
test cells hidden from the docs.

    python tools/code_metrics.py [aerial_nb]
"""
from __future__ import annotations

import ast
import json
import re
import statistics
import sys
from pathlib import Path


def modules(pkg: Path) -> dict[str, Path]:
    "The package's own modules, by short name (generated `_modidx` and vendored code left out)."
    return {p.stem: p for p in sorted(pkg.glob("*.py")) if p.stem not in ("_modidx", "__init__")}


def sibling(node: ast.AST, names: set[str]) -> list[str]:
    "Sibling modules an import node brings in."
    if isinstance(node, ast.ImportFrom):
        mod = node.module or ""
        if node.level >= 1:
            return [mod.split(".")[0]] if mod else [a.name for a in node.names if a.name in names]
        if mod.startswith("aerial_nb"):
            rest = mod.split(".")[1:]
            return rest[:1] if rest else [a.name for a in node.names if a.name in names]
    if isinstance(node, ast.Import):
        return [a.name.split(".")[1] for a in node.names if a.name.startswith("aerial_nb.")]
    return []


def inside_function(tree: ast.AST) -> set[int]:
    "ids of the nodes that sit inside a function body."
    ids = set()
    for f in ast.walk(tree):
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ids |= {id(n) for n in ast.walk(f) if n is not f}
    return ids


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    "Strongly connected components of more than one module (Tarjan)."
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
        for w in graph.get(v, ()):
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: out.append(sorted(comp))

    for v in graph:
        if v not in index: visit(v)
    return out


def main(pkg: Path) -> None:
    mods = modules(pkg)
    names = set(mods)
    sizes, fn_sizes, lines = {}, [], []
    top, inner, graph, private, inner_at = 0, 0, {m: set() for m in mods}, [], []
    for m, path in mods.items():
        text = path.read_text()
        lines += text.splitlines()
        sizes[m] = len(text.splitlines())
        tree = ast.parse(text)
        deep = inside_function(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                fn_sizes.append((node.end_lineno - node.lineno + 1, f"{m}.{node.name}"))
            for s in sibling(node, names):
                if s == m: continue
                graph[m].add(s)
                if id(node) in deep: inner += 1; inner_at.append(f"{m}:{node.lineno} {s}")
                else: top += 1
                if isinstance(node, ast.ImportFrom):
                    private += [f"{m}: from {s} import {a.name}" for a in node.names if a.name.startswith("_")]
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names \
                    and node.value.id != m and node.attr.startswith("_"):
                private.append(f"{m}: {node.value.id}.{node.attr}")
    fs = sorted(fn_sizes, reverse=True)
    print(f"modules: {len(sizes)}, lines {sum(sizes.values())}, largest "
          + ", ".join(f"{m} {n}" for m, n in sorted(sizes.items(), key=lambda x: -x[1])[:3])
          + f"; median {statistics.median(sizes.values()):.0f}")
    print(f"functions: {len(fs)}, median {statistics.median(n for n, _ in fs):.0f} lines, over 50 lines: "
          + (", ".join(f"{f} {n}" for n, f in fs if n > 50) or "none"))
    print(f"imports of sibling modules: {top + inner}, inside functions: {inner}" + "".join(f"\n  {w}" for w in inner_at))
    print(f"import cycles: {cycles(graph) or 'none'}")
    print(f"private names used across modules: {len(private)}" + ("".join(f"\n  {p}" for p in private)))
    n = len(lines)
    for width in (100, 120):
        k = sum(len(x) > width for x in lines)
        print(f"lines over {width} characters: {k} of {n} ({100 * k / n:.1f}%)")


def notebook_rhythm(nbs: Path) -> None:
    """nbdev's rhythm: one exported function (or small class) per cell, then its example. Per export cell its lines and
    top-level functions; a public function counts as shown when its name appears in the code cells after its cell and
    before the next export cell."""
    cell_lines, per_cell, shown, public, hidden = [], [], 0, 0, 0
    for path in sorted(nbs.glob("*.ipynb")):
        cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        for i, c in enumerate(cells):
            src = "".join(c["source"])
            if src.lstrip().startswith("#| hide"): hidden += 1
            if not re.match(r"\s*#\|\s*export", src): continue
            code = src.split("\n", 1)[1] if "\n" in src else ""
            cell_lines.append(len(code.strip().splitlines()))
            try: tree = ast.parse(code)
            except SyntaxError: continue
            fns = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
            per_cell.append(len(fns))
            after = []
            for d in cells[i + 1:]:
                if re.match(r"\s*#\|\s*export", "".join(d["source"])): break
                after.append("".join(d["source"]))
            for f in (f for f in fns if not f.startswith("_")):
                public += 1
                shown += any(re.search(rf"\b{re.escape(f)}\b", a) for a in after)
    print(f"export cells: {len(cell_lines)}, median {statistics.median(cell_lines):.0f} lines, "
          f"{sum(per_cell) / max(len(per_cell), 1):.1f} functions or classes a cell; public functions used in the "
          f"cells right after: {shown} of {public} ({100 * shown / max(public, 1):.0f}%); cells hidden (#| hide): {hidden}")


if __name__ == "__main__":
    pkg = Path(sys.argv[1] if len(sys.argv) > 1 else "aerial_nb")
    main(pkg)
    notebook_rhythm(pkg.parent / "nbs")
