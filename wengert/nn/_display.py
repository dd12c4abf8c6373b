"""Tables that print as aligned text and show as HTML in Jupyter (``_repr_html_``).

>>> t = Table(["layer", "norm"], [["0", "1.5"], ["10", "2e-09"]], title="gradients")
>>> print(t)
layer  norm
0      1.5
10     2e-09
>>> "<th>layer</th>" in t._repr_html_()
True
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any


class Table(str):
    """A ``str`` (the text table, so ``print`` and comparisons work) that Jupyter renders as an HTML table."""

    header: tuple
    rows: tuple
    title: str

    def __new__(
            cls, header: Sequence[str], rows: Sequence[Sequence[str]], title: str = "",
            indent: Sequence[int] | None = None) -> Table:
        header = tuple(str(h) for h in header)
        rows = tuple(tuple(str(c) for c in r) for r in rows)
        all_rows = (header, *rows)
        widths = [max(len(r[i]) for r in all_rows) for i in range(len(header))]
        text = "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in all_rows)
        self = super().__new__(cls, text)
        self.header, self.rows, self.title = header, rows, title
        self.indent = tuple(indent) if indent is not None else (0,) * len(rows)
        return self

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's plain-text display: the table itself, not a quoted string."""
        printer.text(str(self))

    def _repr_html_(self) -> str:
        esc = html.escape
        out = ["<table>"]
        if self.title:
            out.append(f"<caption style='text-align:left'>{esc(self.title)}</caption>")
        out.append("<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in self.header) + "</tr></thead><tbody>")
        for depth, row in zip(self.indent, self.rows):
            cells = [f"<td style='text-align:left'>{esc(c)}</td>" for c in row]
            if depth:
                cells[0] = f"<td style='text-align:left;padding-left:{1 + 1.5 * depth:g}em'>{esc(row[0])}</td>"
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
        return "".join(out)


__all__ = ["Table"]
