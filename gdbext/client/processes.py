"""Child processes that never outlive the tool: they die with their parent
(Linux PR_SET_PDEATHSIG) even if the tool itself is killed, and are ended
with TERM then KILL when the tool stops them."""

import ctypes
import signal
import subprocess
from typing import Optional

_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig):
    def hook():
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # not Linux: the tool's own cleanup still ends the child
    return hook


def spawn(argv, *, own_session=False, death_signal=signal.SIGKILL, **kwargs) -> subprocess.Popen:
    """Start ``argv``; ``own_session`` keeps it out of the terminal's Ctrl-C."""
    return subprocess.Popen(argv, start_new_session=own_session,
                            preexec_fn=_die_with_parent(death_signal), **kwargs)


def stop(process: Optional[subprocess.Popen], grace: float = 3.0) -> Optional[int]:
    """End ``process`` (TERM, then KILL after ``grace`` seconds); its exit status."""
    if process is None:
        return None
    if process.poll() is None:
        try:
            process.terminate()
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        except ProcessLookupError:
            pass
    return process.returncode
