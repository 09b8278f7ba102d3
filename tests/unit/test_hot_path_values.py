"""The values built at every handler run with a hand-written __init__
(Context, ExitObservation, Verdict: see Context.__init__) behave as the
dataclasses they declare: every field set, defaults, replace(), equality,
and still frozen.  And the iret words come out as struct would unpack them."""

import dataclasses
import inspect
import struct

import pytest

from gdbext.decode.snapshot import Context
from gdbext.tracking.judge import ExitObservation, Verdict, unpack_words

CASES = [
    (Context, dict(values={"rax": 1}, rip=0x1000, cs=0x8, rflags=0x202, rsp=0x9000, ss=0x10)),
    (ExitObservation, dict(kind="iret", address=0x2000, registers={"rsp": 0x8fd8},
                           stack=b"\x00" * 40, sp=0x8fd8, cpl=0, mnemonic="iretq")),
    (Verdict, dict(changes=(), findings=(), resumed="a Context", unjudged=(("rax", "why"),))),
]


@pytest.mark.parametrize("cls, values", CASES, ids=[c.__name__ for c, _ in CASES])
def test_init_takes_exactly_the_fields(cls, values):
    fields = [f.name for f in dataclasses.fields(cls)]
    assert list(inspect.signature(cls.__init__).parameters)[1:] == fields
    assert sorted(values) == sorted(fields)
    made = cls(**values)
    assert {name: getattr(made, name) for name in fields} == values
    assert cls(*[values[name] for name in fields]) == made


@pytest.mark.parametrize("cls, values", CASES, ids=[c.__name__ for c, _ in CASES])
def test_defaults_replace_and_frozen(cls, values):
    made = cls(**values)
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            shorter = {k: v for k, v in values.items() if k != field.name}
            assert getattr(cls(**shorter), field.name) == field.default
    first = dataclasses.fields(cls)[0].name
    changed = dataclasses.replace(made, **{first: "other"})
    assert getattr(changed, first) == "other" and changed != made
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, first, "other")


@pytest.mark.parametrize("slot, fmt", [(8, "Q"), (4, "I")])
def test_unpack_words_as_struct(slot, fmt):
    data = bytes(range(5 * slot + 3))        # a trailing partial word is ignored
    assert unpack_words(data, slot) == struct.unpack_from(f"<5{fmt}", data)
    assert unpack_words(data[:2 * slot], slot) == struct.unpack_from(f"<2{fmt}", data)
    assert unpack_words(b"", slot) == ()
