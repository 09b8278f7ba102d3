"""Linux returns from every interrupt through one `iretq`
(native_irq_return_iret): the exit of #PF and of int $0x80 is shared with
every other vector.  isrdbg arms it only while a traced run is past its
handler's own code (its jump into the shared return path), says so in
`info isr-breakpoints`, and judges the runs exactly as before (issue 17).
The breakpoint engine, chosen explicitly: on QEMU >= 9.2 the plugin engine
would record these runs without any exit breakpoint."""

from gdbext.tracking.findings import RULES

from .test_linux import linux_batch, run_to
from .test_linux_judge import STOPPER

TRACE_SECONDS = 15


def test_the_shared_iretq_is_armed_only_while_a_run_is_open(linux):
    result = linux_batch(linux, "pf,int80",
                         run_to(linux, "worker_forever")
                         + ["isr-trace engine breakpoints", "isr-trace 14 0x80",
                            STOPPER % TRACE_SECONDS, "continue",
                            "isr-trace report --json", "info isr-breakpoints --json",
                            "info isr-breakpoints"],
                         timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    trace = result.doc("trace")
    exits = result.doc("breakpoints")["exits"]
    # one exit, the iretq both handlers reach, armed while a run is open
    assert len(exits) == 1, exits
    shared = exits[0]
    assert shared["kind"] == "iret" and shared["vectors"] == [14, 0x80]
    assert shared["while_open"] is True
    assert shared["reason"] == "shared by 2 traced handlers (2 vectors)"
    # armed from each handler's jump into the shared path: in the target only
    # while a traced run is open
    assert shared["cuts"], shared
    assert not shared["armed"] or trace["open_runs"] > 0, (shared, trace["open_runs"])
    cuts = ", ".join(shared["cuts"])
    assert (f"exit {shared['address']} (iret) of vector 14,128: armed while a run is past its "
            f"handler's own code ({cuts}) (shared by 2 traced handlers (2 vectors)"
            ) in result.stdout
    # every run it closed was judged, without an error or a warning
    problems = {rule: n for row in trace["per_vector"] for rule, n in row["findings"].items()
                if RULES[rule].severity != "info"}
    assert problems == {}, result.stdout
    assert trace["runs"] >= 2 and shared["runs"] == trace["runs"]
    # each stop it took that closed no traced run is an exit the trace counts
    # as unpaired, as returning from no traced entry, or as one the untraced
    # handlers may have taken (every other vector's return), and nothing else
    assert shared["outside"] == trace["unmatched_exits"] + trace["exits_without_entry"] + \
        trace["exits_not_traced"]
    # and they are few: armed for a whole run, every interrupt the guest took
    # meanwhile stopped there, ~20 per run (each stop makes QEMU retranslate
    # the kernel's code, and the guest's clock runs on while it does)
    assert shared["outside"] < 3 * shared["runs"], shared
    assert f"{shared['runs']} runs closed, {shared['outside']} stops outside traced runs" \
        in result.stdout
