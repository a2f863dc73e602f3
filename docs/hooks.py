"""MkDocs hooks of the documentation site (mkdocs.yml `hooks:`)."""
import html
import re

HEADING = re.compile(r'<h[1-6][^>]*\sid="([^"]+)"[^>]*>(.*?)</h[1-6]>', re.S)


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).replace("¶", "").split())


def on_page_content(content, page, config, files):
    """Point a notebook page's table of contents at the ids its headings really carry.

    mkdocs-jupyter slugs the TOC with Python-Markdown but the headings with nbconvert; for a heading that is all
    code (`## \\`aerial-nb tile\\``) the first gives `_1`, the second `aerial-nb-tile`, and the TOC link goes nowhere.
    (Python-Markdown also leaves such a heading's TOC title empty: it gets the heading's text too.)
    """
    if not page.file.src_uri.endswith(".ipynb") or not page.toc: return content
    headings = [(m.group(1), _text(m.group(2))) for m in HEADING.finditer(content)]
    items = []
    def walk(level):
        for item in level: items.append(item); walk(item.children)
    walk(page.toc)
    # TOC items and headings come from the same markdown in the same order: pair them up in order, skipping headings
    # the TOC leaves out (deeper than toc_depth, or inside outputs).
    pos = 0
    for item in items:
        for j in range(pos, len(headings)):
            hid, text = headings[j]
            if hid == item.id or (item.title and text == _text(item.title)) or (not item.title and item.id.startswith("_")):
                item.id, item.title, pos = hid, item.title or text, j + 1
                break
    return content
