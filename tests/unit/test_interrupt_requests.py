"""The Ctrl-C watcher (gdbext.gdbside.interrupt_requests): one byte per SIGINT,
gone when its owner closes the pipe."""

import os
import signal
import time

from gdbext.gdbside.interrupt_requests import InterruptRequests


def wait_for(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_each_sigint_is_one_pending_request_and_the_watcher_ends_with_its_pipe():
    requests = InterruptRequests()
    assert requests.start()
    watcher = requests.watcher
    try:
        time.sleep(0.3)                     # its handler is installed
        assert not requests.pending()
        os.kill(watcher.pid, signal.SIGINT)
        assert wait_for(requests.pending)
        assert not requests.pending()       # read once
        os.kill(watcher.pid, signal.SIGINT)
        os.kill(watcher.pid, signal.SIGINT)
        time.sleep(0.2)
        requests.drain()
        assert not requests.pending()
        assert watcher.poll() is None       # SIGINT does not end it
    finally:
        watcher.stdin.close()               # what GDB exiting does
    assert watcher.wait(timeout=5) == 0
    assert not requests.pending() and requests.fd is None


def test_without_a_watcher_nothing_is_pending():
    requests = InterruptRequests()
    assert not requests.pending()
    requests.drain()
