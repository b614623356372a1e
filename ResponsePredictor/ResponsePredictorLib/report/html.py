"""One self-contained HTML page: inline style, pictures linked by relative paths, every text escaped.

The builders return HTML fragments as strings; text and attribute values always pass through
``html.escape`` and links through ``urllib.parse.quote``, so a case id or an error message can
never inject markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

from ..files import atomic_file

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.92em; } td, th { padding: 0.25em 0.7em; border-bottom: 1px solid #eee; text-align: left; }
th { background: #f4f4f4; } .failed { color: #a00; } .note { color: #555; font-size: 0.92em; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; } figcaption { font-size: 0.9em; color: #444; max-width: 40em; }
img { max-width: 100%; border: 1px solid #ddd; }
"""


def text(value: object) -> str:
    return html.escape(str(value))


def link(href: str, label: str) -> str:
    return f'<a href="{_href(href)}">{text(label)}</a>'


def picture(src: str, caption: str) -> str:
    return f'<figure><img src="{_href(src)}" alt="{text(caption)}"><figcaption>{text(caption)}</figcaption></figure>'


def paragraph(content: str, css: str = "") -> str:
    """``content`` is HTML (already escaped by these builders)."""
    return f'<p class="{text(css)}">{content}</p>' if css else f"<p>{content}</p>"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], row_classes: Iterable[str] | None = None) -> str:
    """A table of header texts and rows of HTML cells (build the cells with ``text`` or ``link``)."""
    head = "".join(f"<th>{text(h)}</th>" for h in headers)
    classes = iter(row_classes) if row_classes is not None else None
    body = []
    for row in rows:
        css = next(classes) if classes is not None else ""
        attribute = f' class="{text(css)}"' if css else ""
        body.append(f"<tr{attribute}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def section(title: str, *content: str) -> str:
    return f"<h2>{text(title)}</h2>\n" + "\n".join(content)


def write_page(path: str | Path, title: str, *content: str) -> Path:
    """Write the page, atomically, as UTF-8."""
    path = Path(path)
    document = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{text(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{text(title)}</h1>\n"
        + "\n".join(content) + "\n</body>\n</html>\n"
    )
    with atomic_file(path, suffix=".partial.html") as partial:
        partial.write_text(document, encoding="utf-8")
    return path


def _href(path: str) -> str:
    # Relative paths with '/' separators; quote() escapes spaces, quotes and anything else unsafe.
    return html.escape(quote(path.replace("\\", "/")))
