"""The MI Session and the -isr-* MI commands against the bundled kernels in
real QEMU and real GDB.  Every document an MI command returns must equal
what the CLI command prints with --json."""

import json
import os
import signal
import threading
import time

import pytest

from gdbext.client.session import CommandError, Session, SessionError, SessionTimeout

from .conftest import free_port, symbols, users_qemu


@pytest.fixture
def session(kernels, request):
    """Session(kernel, scenario) for the test's `scenario` mark (x86_64 unless `arch`)."""
    marker = request.node.get_closest_marker("scenario")
    arch, append = marker.kwargs.get("arch", "x86_64"), marker.args[0]
    with Session(kernels[arch], append) as opened:
        yield opened


def cli_json(session, command):
    """What the CLI command prints with --json."""
    return json.loads(session.console(command + " --json"))


@pytest.mark.scenario("scenario=idle")
def test_starts_under_tmpdir_connected_and_stopped(session, private_tmpdir):
    assert session.workdir.parent == private_tmpdir
    assert session.state == "stopped"
    assert session.serial_log.parent == session.workdir
    assert 'The target architecture is set to "i386:x86-64".' in session.console(
        "show architecture")


@pytest.mark.scenario("scenario=idle")
def test_idt_document_equals_the_cli_json(session):
    with pytest.raises(CommandError) as error:
        session.idt()
    assert str(error.value).startswith("isr-idt: IDT not loaded yet: CPU 0 is in real mode")
    session.console("break scenario_start")
    stop = session.cont(timeout=30)
    assert (stop.kind, stop.reason, stop.function) == ("stopped", "breakpoint-hit",
                                                       "scenario_start")
    assert session.idt(14) == cli_json(session, "isr-idt 14")
    assert session.mi("-isr-idt", "14") != session.idt(14)    # raw MI: strings, not typed
    full = session.idt(all=True)
    assert full == cli_json(session, "isr-idt")
    assert [e["vector"] for e in full["entries"]] == list(range(256))
    gate = session.idt("page-fault")["entries"][0]
    assert (gate["vector"], gate["symbol"], gate["present"], gate["error_code"]) == \
        (14, "isr_page_fault+0", True, True)


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_break_continue_until_vector_and_frame(kernels, arch):
    addresses = symbols(kernels[arch])
    with Session(kernels[arch], "scenario=pf-write-readonly") as session:
        armed = session.isr_break("page-fault")
        assert armed["vectors"][0]["state"] == "pending"
        assert "IDT not loaded yet" in armed["vectors"][0]["reason"]
        stop = session.cont(until_vector=14, timeout=30)
        assert (stop.kind, stop.reason, stop.function) == ("stopped", "breakpoint-hit",
                                                           "isr_page_fault")
        assert stop.isr["kind"] == "entry" and stop.isr["vectors"] == [14]
        assert stop.breakpoint == stop.isr["breakpoint"]
        assert "error code  0x3: supervisor-mode write" in stop.text   # GDB's hit report
        frame = session.frame()
        assert frame == cli_json(session, "isr-frame")
        assert frame["source"] == "entry" and frame["vector"] == 14
        assert frame["error_code"]["value"] == "0x3" and frame["has_error_code"]
        assert int(frame["cr2"], 16) == addresses["pf_readonly_page"]
        assert int(frame["rip"], 16) == addresses["fault_insn_pf_write_readonly"]
        assert frame["page_walk"]["writable"] is False
        assert session.frame(vector=14) == frame
        assert session.frame(at=int(frame["address"], 16))["source"] == "address"
        listed = session.breakpoints()
        assert listed == cli_json(session, "info isr-breakpoints")
        assert listed["vectors"][0]["state"] == "armed"
        assert int(listed["vectors"][0]["address"], 16) == addresses["isr_page_fault"]
        status = session.status()
        assert status == cli_json(session, "isr-status")
        assert (status["state"], status["handling"], status["depth"]) == ("stopped", [14], 1)
        assert status["mode"] == ("long" if arch == "x86_64" else "protected")


@pytest.mark.scenario("scenario=nested-exception")
def test_until_vector_continues_past_other_vectors(session):
    session.isr_break("3 6")
    stop = session.cont(until_vector="#UD", timeout=30)
    assert stop.isr["vectors"] == [6]
    stops = []
    while not session.events.empty():
        event = session.events.get()
        if event.kind == "stopped" and event.isr:
            stops.append(event.isr["vectors"])
    assert stops == [[3], [6]]
    assert session.status()["depth"] == 2          # #UD nested in the #BP handler
    with pytest.raises(Exception) as error:
        session.cont(until_vector=14)
    assert str(error.value) == "vector 14 has no isr breakpoint (isr_break it first)"


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_watch_finds_the_clobbered_register_and_diff_shows_it(kernels, arch):
    with Session(kernels[arch], "scenario=bad-clobber-rbx") as session:
        session.watch(0x52)
        stop = session.cont(timeout=30)
        assert stop.isr["kind"] == "exit" and stop.isr["vectors"] == [0x52]
        assert stop.isr["findings"] == 1
        diff = session.diff()
        assert diff == cli_json(session, "isr-diff")
        [run] = diff["runs"]
        [finding] = run["findings"]
        register = "rbx" if arch == "x86_64" else "ebx"
        assert finding["rule"] == "clobbered-register"
        assert finding["details"]["registers"][register][1] == "0xdead"
        assert int(finding["address"], 16) > int(run["handler"], 16)
        assert session.status()["findings"]["error"] == 1
        assert session.delete()["deleted"] == [0x52]


@pytest.mark.scenario("scenario=bad-clobber-rbx")
def test_live_diff_inside_the_handler(session, kernels):
    session.isr_break(0x52)
    session.cont(until_vector=0x52, timeout=30)
    session.console(f"tbreak *{symbols(kernels['x86_64'])['bug_clobber_rbx'] + 5:#x}")
    session.cont(timeout=30)
    diff = session.diff()
    assert diff == cli_json(session, "isr-diff")
    assert diff["runs"] == [] and diff["live"]["now"]["rbx"] == "0xdead"


@pytest.mark.scenario("scenario=idle")
def test_bad_commands_answer_one_line_and_the_session_goes_on(session):
    with pytest.raises(CommandError) as error:
        session.idt(300)
    assert str(error.value) == "isr-idt: vector 300 is out of range (0-255)"
    with pytest.raises(CommandError) as error:
        session.console("isr-idt 300")
    assert str(error.value) == "isr-idt: vector 300 is out of range (0-255)"
    with pytest.raises(CommandError) as error:
        session.isr("isr-frame", "--bogus")
    assert str(error.value) == ("isr-frame: unrecognized arguments: --bogus "
                                "(see `help isr-frame`)")
    with pytest.raises(CommandError) as error:
        session.mi("-isr-nonsense")
    assert str(error.value) == "Undefined MI command: isr-nonsense"
    with pytest.raises(CommandError) as error:
        session.console("no-such-command")
    assert str(error.value) == 'Undefined command: "no-such-command".  Try "help".'
    assert session.status()["state"] == "stopped"


@pytest.mark.scenario("scenario=timer ticks=100000")
def test_timeout_on_a_kernel_that_runs_forever(session):
    started = time.monotonic()
    with pytest.raises(SessionTimeout) as error:
        session.cont(timeout=2)
    assert time.monotonic() - started < 8
    assert str(error.value).startswith("the target did not stop within 2s; interrupted it at ")
    assert session.state == "stopped"
    assert session.status()["state"] == "stopped"       # still usable


@pytest.mark.scenario("scenario=timer ticks=100000")
def test_interrupt_a_running_target(session):
    assert session.console("continue") == "Continuing.\n"
    event = session.next_event(timeout=10)
    while event.kind != "running":
        event = session.next_event(timeout=10)
    assert session.status()["state"] == "running"
    stop = session.interrupt(timeout=10)
    assert (stop.kind, stop.reason, stop.signal) == ("stopped", "signal-received", "SIGINT")
    assert session.state == "stopped"


@pytest.mark.scenario("scenario=idle")
def test_kernel_exit_is_an_event_with_qemus_status(session):
    stop = session.cont(timeout=30)
    assert (stop.kind, stop.exit_code) == ("exited", 1)      # isa-debug-exit: PASS
    assert session.state == "exited"
    assert session.status()["state"] == "no target"


@pytest.mark.scenario("scenario=idle")
def test_gdb_killed_is_a_session_error_at_once(session):
    os.kill(session._gdb.gdb_process.pid, signal.SIGKILL)
    started = time.monotonic()
    with pytest.raises(SessionError) as error:
        session.idt()
    assert time.monotonic() - started < 2
    assert str(error.value).startswith("GDB exited with status -9")


@pytest.mark.scenario("scenario=timer ticks=100000")
def test_qemu_killed_while_running_is_a_session_error(session):
    killer = threading.Timer(0.5, session.qemu.process.kill)
    killer.start()
    started = time.monotonic()
    try:
        with pytest.raises(SessionError) as error:
            session.cont(timeout=60)
    finally:
        killer.join()
    assert time.monotonic() - started < 10
    assert str(error.value).startswith("QEMU was killed by signal 9")


@pytest.mark.scenario("scenario=idle")
def test_qemu_killed_while_stopped_is_a_session_error(session):
    session.qemu.process.kill()
    session.qemu.process.wait()
    with pytest.raises(SessionError) as error:
        session.status()
    assert str(error.value).startswith("QEMU was killed by signal 9")


def test_missing_kernel_and_bad_attach():
    with pytest.raises(Exception) as error:
        Session("/nonexistent/kernel.elf")
    assert str(error.value) == "kernel not found: /nonexistent/kernel.elf"
    with pytest.raises(Exception) as error:
        Session(attach="nowhere")
    assert str(error.value) == "--attach wants HOST:PORT, got 'nowhere'"


def test_attach_to_a_qemu_the_user_started(kernels, tmp_path):
    with users_qemu(kernels["x86_64"], tmp_path) as port:
        with Session(kernels["x86_64"], attach=f"127.0.0.1:{port}") as session:
            assert session.qemu is None and session.serial_log is None
            session.console("break scenario_start")
            session.cont(timeout=30)
            assert session.idt(14)["entries"][0]["symbol"] == "isr_page_fault+0"


def test_attach_to_nothing_is_a_session_error():
    with pytest.raises(SessionError) as error:
        Session(attach=f"127.0.0.1:{free_port()}", connect_timeout=1)
    assert "isr-connect: cannot connect to the target at 127.0.0.1:" in str(error.value)
