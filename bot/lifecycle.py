"""Stopping a service role cleanly: SIGTERM (what ``docker stop`` and systemd send) and Ctrl-C.

A role that loops (``index --watch``, ``feeds``) waits on the event ``stop_on_signals`` returns
instead of sleeping: the signal only sets it, so the index run or feed poll in flight finishes
(nothing half-added, the generation published or not at all) and the loop ends. A second signal
acts at once, as if no handler were installed, for when the run in flight takes too long.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_on_signals() -> threading.Event:
    """An event set by the first SIGTERM or SIGINT (main thread only, as Python requires)."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        for sig in _SIGNALS:
            signal.signal(sig, signal.SIG_DFL if sig == signal.SIGTERM
                          else signal.default_int_handler)
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    for sig in _SIGNALS:
        signal.signal(sig, handle)
    return stop
