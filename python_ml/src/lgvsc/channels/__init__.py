# SPDX-License-Identifier: GPL-3.0-or-later
"""Sionna channels for IQ streams: fading models, noise, gr-zeromq framing and the ZeroMQ emulator.

See docs/channels.md. Link-level (coded) simulation lives in :mod:`lgvsc.linksim`.
"""

from lgvsc.channels.cdl import RayFading
from lgvsc.channels.models import CHANNEL_MODELS, ChannelSpec, SosFading, StreamingChannel
from lgvsc.channels.noise import StreamingNoise

__all__ = ["CHANNEL_MODELS", "ChannelSpec", "RayFading", "SosFading", "StreamingChannel", "StreamingNoise"]
