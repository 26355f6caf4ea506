"""Elastic tabstops, as Go's text/tabwriter lays them out (docker's tables use it).

Cells are terminated by ``\\t``; the text after a line's last tab is not part of any
column. A column is a run of consecutive lines that all have a cell at that index;
its width is ``max(minwidth, widest cell + padding)``.
"""

from __future__ import annotations


def text_width(s: str) -> int:
    """Display width: East Asian wide/fullwidth characters count 2, combining marks 0."""
    if s.isascii():
        return len(s)
    import unicodedata

    w = 0
    for c in s:
        if unicodedata.combining(c):
            continue
        w += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return w


def tabwrite(text: str, minwidth: int = 10, tabwidth: int = 1, padding: int = 3,
             padchar: str = " ") -> str:
    """Align ``text`` (lines of tab-terminated cells) into columns."""
    raw_lines = text.split("\n")
    lines = [line.split("\t") for line in raw_lines]
    widths_cache = [[text_width(c) for c in line] for line in lines]
    out: list[str] = []
    last = len(lines) - 1

    def write_lines(line0: int, line1: int, widths: list[int]) -> None:
        for i in range(line0, line1):
            cells = lines[i]
            for j, cell in enumerate(cells):
                out.append(cell)
                if j < len(widths):
                    out.append(padchar * (widths[j] - widths_cache[i][j]))
            if i != last:
                out.append("\n")

    def fmt(line0: int, line1: int, widths: list[int]) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this, widths)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                w = widths_cache[this][column] + padding
                if w > width:
                    width = w
                this += 1
            widths.append(width)
            fmt(line0, this, widths)
            widths.pop()
            line0 = this
        write_lines(line0, line1, widths)

    fmt(0, len(lines), [])
    return "".join(out)
