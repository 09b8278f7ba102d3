import pytest

from gdbext.errors import UsageError
from gdbext.x86.vectors import VECTORS, parse_spec, parse_specs, spec_words, vector

ERROR_CODE_VECTORS = {8, 10, 11, 12, 13, 14, 17, 21, 29, 30}


def test_table_has_every_vector_once():
    assert [v.number for v in VECTORS] == list(range(256))


def test_error_code_vectors_match_the_sdm():
    assert {v.number for v in VECTORS if v.pushes_error_code} == ERROR_CODE_VECTORS


@pytest.mark.parametrize("number,mnemonic,name,kind", [
    (0, "#DE", "Divide Error", "fault"),
    (2, "NMI", "Non-Maskable Interrupt", "interrupt"),
    (3, "#BP", "Breakpoint", "trap"),
    (8, "#DF", "Double Fault", "abort"),
    (14, "#PF", "Page Fault", "fault"),
    (18, "#MC", "Machine Check", "abort"),
    (21, "#CP", "Control Protection", "fault"),
    (32, "", "Interrupt", "interrupt"),
])
def test_facts(number, mnemonic, name, kind):
    v = vector(number)
    assert (v.mnemonic, v.name, v.kind) == (mnemonic, name, kind)


def test_label():
    assert vector(14).label == "14 #PF Page Fault"
    assert vector(200).label == "200 Interrupt"


@pytest.mark.parametrize("spec,expected", [
    ("14", (14,)), ("0x20", (32,)), ("#PF", (14,)), ("pf", (14,)), ("page-fault", (14,)),
    ("#gp", (13,)), ("nmi", (2,)), ("double-fault", (8,)), ("xf", (19,)),
    ("32-35", (32, 33, 34, 35)), ("0x20-0x21", (32, 33)),
])
def test_parse_spec(spec, expected):
    assert parse_spec(spec) == expected


def test_classes():
    assert parse_spec("exceptions") == tuple(range(32))
    assert parse_spec("irqs") == tuple(range(32, 256))
    assert parse_spec("all") == tuple(range(256))


def test_parse_specs_unions_and_splits_commas():
    assert parse_specs(["#PF", "13,3", "14"]) == (3, 13, 14)


@pytest.mark.parametrize("bad,message", [
    ("256", "out of range"), ("-1", "out of range"), ("foo", "not a vector"),
    ("40-32", "empty vector range"), ("", "empty"),
])
def test_bad_specs_are_one_line_errors(bad, message):
    with pytest.raises(UsageError, match=message) as info:
        parse_spec(bad)
    assert "\n" not in str(info.value)


def test_completion_words():
    words = spec_words()
    assert {"exceptions", "irqs", "all", "#PF", "pf", "page-fault"} <= set(words)


@pytest.mark.parametrize("bad", ["0o17", "0b1110", "+14", "1_4", "014", "0X", "0x",
                                 "\uff11\uff14", "\u0661\u0664", "14.0", "1e1", "0x1g"])
def test_only_ascii_decimal_and_hex_numbers_are_vectors(bad):
    with pytest.raises(UsageError, match="not a vector"):
        parse_spec(bad)


@pytest.mark.parametrize("bad", ["-0", "-14", "-0x1", "9" * 5000])
def test_signed_and_huge_numbers_are_out_of_range(bad):
    with pytest.raises(UsageError, match="out of range") as info:
        parse_spec(bad)
    assert len(str(info.value)) < 100


def test_open_range_names_its_missing_end():
    with pytest.raises(UsageError, match=r"^range 32- has no end"):
        parse_spec("32-")
