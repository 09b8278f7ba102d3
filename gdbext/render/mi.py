"""isrdbg/1 documents as GDB/MI results, and back.

A ``gdb.MICommand`` returns a dict that GDB serialises as an MI tuple; MI
values are only strings, tuples and lists, so GDB turns every scalar into
``str(value)`` (``True``, ``None``, ``14`` all become strings).  To keep the
JSON types without a schema on the client side, scalars are sent as follows:

* a number, ``true``/``false`` and ``null`` as their JSON text (``vector="14"``,
  ``present="true"``, ``symbol="null"``);
* a string as itself (``handler="0x103e60"``), unless the string is itself
  valid JSON text (``"4889"``, ``"true"``, ``"[1]"``): then as its JSON text
  (``bytes="\\"4889\\""``);
* a dict whose keys are not all MI identifiers (MI allows
  ``[A-Za-z_][A-Za-z0-9_-]*``) as its JSON text.

Decoding a value is then ``json.loads`` if it parses, else the string itself:
lossless both ways, and MI front ends see plain values for nearly everything.
"""

import json
import re
from typing import Any

_MI_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def to_mi(value: Any) -> Any:
    """A JSON-able value as what ``gdb.MICommand.invoke`` may return."""
    if isinstance(value, dict):
        if all(isinstance(k, str) and _MI_KEY.match(k) for k in value):
            return {k: to_mi(v) for k, v in value.items()}
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, (list, tuple)):
        return [to_mi(v) for v in value]
    if isinstance(value, str):
        return json.dumps(value) if _is_json(value) else value
    return json.dumps(value)


def from_mi(value: Any) -> Any:
    """The inverse of ``to_mi`` on what an MI parser (pygdbmi) gives back."""
    if isinstance(value, dict):
        return {k: from_mi(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_mi(v) for v in value]
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
