"""Aligned text tables whose cells may carry terminal styling."""

import re
from typing import List, Sequence

_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def visible_len(text: str) -> int:
    return len(_ESCAPE.sub("", text))


def format_table(header: Sequence[str], rows: List[Sequence[str]], gap: str = "  ") -> List[str]:
    """Left-aligned columns sized to their widest visible cell."""
    widths = [visible_len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], visible_len(cell))
    lines = []
    for row in [list(header)] + [list(r) for r in rows]:
        cells = [cell + " " * (widths[i] - visible_len(cell)) for i, cell in enumerate(row)]
        lines.append(gap.join(cells).rstrip())
    return lines
