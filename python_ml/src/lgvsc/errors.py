# SPDX-License-Identifier: GPL-3.0-or-later
"""Errors a user can act on: the CLI prints the message and exits non-zero, no traceback."""

__all__ = ["UserError", "VideoError", "PacketError"]


class UserError(Exception):
    """A problem with the user's input or environment (bad file, bad option, port in use)."""

    exit_code = 2


class VideoError(UserError):
    """A video that is missing, unreadable, has no video stream or no frames."""


class PacketError(ValueError):
    """Malformed bytes from the air or a socket (bad header, bad length, bad version)."""
