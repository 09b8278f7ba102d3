"""Terminal styling that can be switched off (GDB's ``set style enabled off``,
``--no-color``, output that is not a terminal)."""

_CODES = {
    "bold": "1", "dim": "2", "title": "1", "address": "34", "symbol": "33",
    "changed": "1;31", "bad": "31", "warn": "33", "good": "32", "info": "36",
}


class Style:
    def __init__(self, enabled: bool = False):
        self.enabled = enabled

    def __call__(self, role: str, text: str) -> str:
        if not self.enabled or not text:
            return text
        return f"\x1b[{_CODES[role]}m{text}\x1b[0m"


PLAIN = Style(False)
