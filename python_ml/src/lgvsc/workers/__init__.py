# SPDX-License-Identifier: GPL-3.0-or-later
"""Long-lived ZeroMQ workers (encoder, decoder, echo) that serve the radio side.

See docs/bridge.md for the sockets, messages and flow control.
"""

__all__: list[str] = []
