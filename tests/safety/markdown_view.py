"""How the Dagster UI would see a metadata markdown string: parsed with raw HTML on (the worst case)."""

from __future__ import annotations

from collections.abc import Iterator

from markdown_it import MarkdownIt
from markdown_it.token import Token

MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
ACTIVE = ("html_block", "html_inline", "link_open", "image", "code_inline", "fence")


def tokens(text: str) -> Iterator[Token]:
    """Every block and inline token of ``text``."""
    for tok in MD.parse(text):
        yield tok
        yield from tok.children or ()


def table_rows(text: str, forbidden: tuple[str, ...] = ACTIVE) -> list[list[str]]:
    """The rendered table's rows as text cells; asserts no token of the ``forbidden`` types appears."""
    rows, cells = [], None
    for tok in tokens(text):
        assert tok.type not in forbidden, (tok.type, tok.content)
        if tok.type == "tr_open":
            cells = []
        elif tok.type == "inline" and cells is not None:
            cells.append("".join(c.content for c in tok.children if c.type in ("text", "text_special")))
        elif tok.type == "tr_close":
            rows.append(cells)
            cells = None
    return rows
