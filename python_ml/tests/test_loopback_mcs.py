"""lgvsc loopback --mcs on either PHY: the PSK PHY takes the BPSK/QPSK subset of the OFDM table (issue 11)."""

from __future__ import annotations

import pytest

from lgvsc.accounting import PSK_MCS_NAMES
from lgvsc.errors import UserError
from lgvsc.loopback import LoopbackConfig
from lgvsc.loopback_report import loopback_mcs, loopback_rate


def _cfg(tmp_path, **kw) -> LoopbackConfig:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0")
    return LoopbackConfig(video=video, out_dir=tmp_path / "out", **kw)


@pytest.mark.parametrize("mcs", ["auto", *PSK_MCS_NAMES])
def test_psk_takes_its_mcs_subset(tmp_path, mcs):
    _cfg(tmp_path, phy="psk", mcs=mcs).validate()


@pytest.mark.parametrize("phy,mcs", [("psk", "paper-8dB"), ("psk", "paper-10dB"), ("psk", "nosuch"),
                                     ("ofdm", "paper-3dB")])
def test_names_outside_the_phys_table_are_a_user_error(tmp_path, phy, mcs):
    with pytest.raises(UserError, match=f"unknown MCS '{mcs}' for the {phy} PHY; choose auto or one of none, cc"):
        _cfg(tmp_path, phy=phy, mcs=mcs).validate()


def test_psk_auto_caps_at_its_most_capable_preset_and_rates_follow(tmp_path):
    cases = {-2.0: "paper-0dB", 3.0: "paper-2dB", 6.0: "paper-6dB", 30.0: "paper-6dB"}
    for snr, want in cases.items():
        assert loopback_mcs(_cfg(tmp_path, phy="psk", mcs="auto", snr_db=snr)) == want
    assert loopback_mcs(_cfg(tmp_path, phy="ofdm", mcs="auto", snr_db=30.0)) == "paper-10dB"
    psk = _cfg(tmp_path, phy="psk", mcs="paper-2dB")
    assert loopback_rate(psk) == ("qpsk", 0.5)
    # none/cc: the PSK PHY's payload_mod (BPSK by default, or what link_runner reports)
    assert loopback_rate(_cfg(tmp_path, phy="psk", fec="cc")) == ("bpsk", 0.5)
    assert loopback_rate(_cfg(tmp_path, phy="psk"), "cc", {"payload_mod": "qpsk"}) == ("qpsk", 0.5)
