"""Re-wrap the `__all__` lists nbdev writes, so that the exported library stays within the linter's line length.

nbdev wraps the list at 120 characters but does not count the `__all__ = ` in front of its first line (up to 130).
`make export` runs this right after `nbdev-export`; `make check-sync` does the same, so it changes nothing committed.

    python tools/wrap_all.py [aerial_nb] [--width 120]
"""
from __future__ import annotations

import ast
import re
import sys
import textwrap
from pathlib import Path

ALL = re.compile(r"^__all__ = \[.*?\]\n", re.S | re.M)


def wrap_all(text: str, width: int = 120) -> str:
    "`text` with its `__all__ = [...]` list wrapped to `width` characters, names in the same order."
    m = ALL.search(text)
    if not m: return text
    names = ast.literal_eval(m.group(0).split("=", 1)[1].strip())
    lines = textwrap.wrap(str(names), width, initial_indent="__all__ = ", subsequent_indent=" " * 11,
                          break_long_words=False, break_on_hyphens=False)
    return text[:m.start()] + "\n".join(lines) + "\n" + text[m.end():]


def main(argv: list[str]) -> None:
    width = int(argv[argv.index("--width") + 1]) if "--width" in argv else 120
    folders = [a for a in argv if not a.startswith("--") and not a.isdigit()] or ["aerial_nb"]
    for folder in folders:
        for path in sorted(Path(folder).glob("*.py")):
            text = path.read_text()
            new = wrap_all(text, width)
            if new != text: path.write_text(new)


if __name__ == "__main__":
    main(sys.argv[1:])
