"""Pure parts of the MI session and the REPL: argument quoting, SPEC words,
line splitting and completion (over fixed data instead of a GDB)."""

from prompt_toolkit.document import Document

from gdbext.client.repl import IsrCompleter, history_file, isr_command, split_words
from gdbext.client.session import mi_quote, spec_words


def test_mi_quote():
    assert mi_quote("14") == "14"
    assert mi_quote("--at") == "--at"
    assert mi_quote("$isr_error_code & 2") == '"$isr_error_code & 2"'
    assert mi_quote('say "x"\\') == '"say \\"x\\"\\\\"'
    assert mi_quote("") == '""'
    assert mi_quote("info registers", always=True) == '"info registers"'


def test_spec_words():
    assert spec_words(None) == []
    assert spec_words(14) == ["14"]
    assert spec_words("32-47 page-fault") == ["32-47", "page-fault"]
    assert spec_words(["#PF", 0x80]) == ["#PF", "128"]


def test_isr_command_lines():
    assert isr_command(split_words("isr-idt --all 14")) == ("isr-idt", ["--all", "14"])
    assert isr_command(split_words("info isr-breakpoints")) == ("info isr-breakpoints", [])
    assert isr_command(split_words("info registers")) == (None, ["info", "registers"])
    assert split_words("isr-break 14 if $a == 'x y'") == ["isr-break", "14", "if", "$a", "==",
                                                         "x y"]


def test_history_file_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert history_file() == tmp_path / "isrdbg" / "history"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert history_file() == tmp_path / ".local" / "state" / "isrdbg" / "history"


class Data:
    """What CompletionData asks GDB for, fixed."""
    isr_commands = {"isr-idt": (["--all", "--json"], True),
                    "isr-frame": (["--at", "--vector", "--json"], True),
                    "isr-break": (["--hw", "--json", "if"], True),
                    "isr-diff": (["--vector", "--last", "--all", "--json"], False),
                    "info isr-breakpoints": (["--json"], False)}
    gdb_commands = ["continue", "info", "interrupt", "isr-idt", "x"]
    registers = ["rax", "rip", "rsp", "cr2"]
    symbols = ["isr_page_fault", "pf_readonly_page", "scenario_start"]


def complete(text):
    found = IsrCompleter(Data()).get_completions(Document(text), None)
    return [(c.text, c.start_position, c.display_meta_text) for c in found]


def test_completes_vector_names_classes_and_numbers():
    assert complete("isr-idt page-f") == [("page-fault", -6, "14 #PF Page Fault")]
    assert ("#PF", -2, "14 #PF Page Fault") in complete("isr-idt #p")
    assert ("exceptions", -3, "32 vectors") in complete("isr-break exc")
    numbers = [text for text, _, _ in complete("isr-idt 25")]
    assert numbers == ["25", "250", "251", "252", "253", "254", "255"]
    assert ("--all", 0, "") in complete("isr-idt ")


def test_completes_options_once_and_expressions_where_wanted():
    assert [t for t, _, _ in complete("isr-idt --")] == ["--all", "--json"]
    assert [t for t, _, _ in complete("isr-idt --all --")] == ["--json"]
    assert [t for t, _, _ in complete("isr-diff --")] == ["--vector", "--last", "--all", "--json"]
    assert complete("isr-diff pa") == []                     # isr-diff takes no SPEC
    assert [t for t, _, _ in complete("isr-frame --at $r")] == ["$rax", "$rip", "$rsp"]
    assert [t for t, _, _ in complete("isr-frame --at &pf")] == ["&pf_readonly_page"]
    assert [t for t, _, _ in complete("isr-frame --vector p")][:2] == ["page-fault", "pf"]
    assert ("$isr_error_code", -5, "") in complete("isr-break 14 if $isr_")


def test_completes_commands_and_gdb_arguments():
    assert [t for t, _, _ in complete("in")] == ["info", "interrupt"]
    assert [t for t, _, _ in complete("isr-i")] == ["isr-idt"]
    assert [t for t, _, _ in complete("info isr")] == ["isr-breakpoints"]
    assert complete("info isr-breakpoints ") == [("--json", 0, "")]
    assert [t for t, _, _ in complete("x/i isr_")] == ["isr_page_fault"]
    assert [t for t, _, _ in complete("print $c")] == ["$cr2"]
    assert complete("x/i ") == []
