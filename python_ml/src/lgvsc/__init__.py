# SPDX-License-Identifier: GPL-3.0-or-later
"""LGVSC, the ML side: semantic codec, workers, channels and evaluation.

This package never imports GNU Radio; it meets the radio side only through
ZeroMQ sockets carrying PDUs and IQ samples (see docs/PROTOCOL.md).
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
