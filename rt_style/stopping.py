"""Ctrl-C and SIGTERM as a request to stop cleanly: the first one asks the work to wind down
and keep what is done, a second one abandons it at once (KeyboardInterrupt)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def graceful_stop(message: str = "stopping: finishing the frames in flight "
                                 "(press Ctrl-C again to abandon)") -> Iterator[threading.Event]:
    """An Event set by the first SIGINT/SIGTERM while the block runs (main thread only)."""
    stop = threading.Event()

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print(message, file=sys.stderr, flush=True)

    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals go to the main thread only; nothing to install here
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
