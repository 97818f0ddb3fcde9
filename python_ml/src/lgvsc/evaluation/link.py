# SPDX-License-Identifier: GPL-3.0-or-later
"""The evaluation's transport: a scheme's units through :class:`lgvsc.linksim.LinkSimulator`.

The units (PDUs or access units) are concatenated into one transport payload,
cut into LDPC code blocks of the preset chosen for the *design* SNR (the
channel SNR itself unless ``design_snr_db`` is given), sent at the *channel*
SNR, decoded, and split back at the known unit boundaries. Each unit comes back
with its bit errors; a scheme either drops errored units (CRC) or keeps them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TRANSPORTS", "LinkOutcome", "Link", "cell_seed"]

#: Transports ``lgvsc eval`` knows; ``phy`` (GNU Radio flowgraph) is not wired to the evaluation yet.
TRANSPORTS: tuple[str, ...] = ("linksim", "phy")


def cell_seed(seed: int, snr_db: float, scheme: str, video_key: str) -> int:
    """A reproducible link seed per (seed, SNR, scheme, video), so cells are independent and resumable."""
    return zlib.crc32(f"{seed}|{snr_db:.6g}|{scheme}|{video_key}".encode()) & 0x7FFFFFFF


@dataclass
class LinkOutcome:
    """Units as received (with errors), and the link's counters."""

    units: list[bytes]
    errored: list[bool]
    stats: dict[str, Any] = field(default_factory=dict)


class Link:
    """LDPC + QAM + channel per (preset, channel), simulators cached.

    :param channel: one of :data:`lgvsc.linksim.LINK_CHANNELS`
    :param design_snr_db: fixed design SNR for the preset (``None``: matched to each channel SNR)
    :param num_iter: LDPC decoder iterations
    """

    def __init__(self, channel: str = "awgn", design_snr_db: float | None = None, num_iter: int = 20) -> None:
        from lgvsc.linksim import LINK_CHANNELS

        if channel not in LINK_CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; choose one of {', '.join(LINK_CHANNELS)}")
        self.channel = channel
        self.design_snr_db = design_snr_db
        self.num_iter = int(num_iter)
        self._sims: dict[str, Any] = {}

    def preset(self, snr_db: float):
        """The paper's LDPC/QAM preset used at channel SNR ``snr_db``."""
        from lgvsc.linksim import preset_for_design_snr

        return preset_for_design_snr(snr_db if self.design_snr_db is None else self.design_snr_db)

    def _sim(self, cfg):
        from lgvsc.linksim import LinkSimulator

        if cfg.name not in self._sims:
            self._sims[cfg.name] = LinkSimulator(cfg, self.channel, num_iter=self.num_iter)
        return self._sims[cfg.name]

    def send(self, units: list[bytes], snr_db: float, seed: int) -> LinkOutcome:
        """Send ``units`` back to back at channel SNR ``snr_db``."""
        cfg = self.preset(snr_db)
        payload = b"".join(units)
        res = self._sim(cfg).run_bytes(payload, snr_db, seed=seed)
        rx = res.payload
        out, errored = [], []
        pos = 0
        for u in units:
            got = rx[pos:pos + len(u)]
            out.append(got)
            errored.append(got != u)
            pos += len(u)
        return LinkOutcome(units=out, errored=errored, stats={
            "preset": cfg.name,
            "k": cfg.k,
            "n": cfg.n,
            "modulation": cfg.modulation,
            "num_blocks": res.num_blocks,
            "block_errors": res.block_errors,
            "bler": res.bler,
            "bit_errors": res.bit_errors,
            "ber": res.ber,
            "channel_symbols": res.num_channel_symbols,
            "units_errored": int(sum(errored)),
        })
