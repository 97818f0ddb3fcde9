# SPDX-License-Identifier: GPL-3.0-or-later
"""The lifecycle of a bridge block's own ZeroMQ thread, as gr-zeromq's sub_msg_source has it.

``start()`` starts a daemon thread that polls with a timeout and watches a stop event;
``stop()`` sets the event, wakes the thread, joins it (bounded) and lets it close its socket.
Shared by semantic_source and semantic_sink so that both stop the same way.
"""

import threading

__all__ = ["io_thread"]

JOIN_TIMEOUT_S = 5.0


class io_thread:
    """One block's I/O thread: ``run(stop_event)`` is the thread body."""

    def __init__(self, run, name):
        self._run, self._name = run, name
        self.stop_event = threading.Event()
        self.wake = threading.Event()  # set to cut a poll/wait short (new work or stop)
        self._thread = None

    def start(self):
        self.stop_event.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self):
        self.stop_event.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=JOIN_TIMEOUT_S)
            self._thread = None
