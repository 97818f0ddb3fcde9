# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for lgvsc.accounting: the paper's CBR and the on-air CBR of a PHY."""

from __future__ import annotations

import pytest
from stream_strategies import example_stream

from lgvsc.accounting import (
    PAPER_PRESETS,
    PhyDescription,
    account_pdus,
    account_stream,
    cbr,
    cbr_for_bits,
    channel_symbols,
    coded_bits,
    paper_preset,
    payload_bits_for_cbr,
    source_values,
)
from lgvsc.packets import HEADER_SIZE, packetize
from lgvsc.stream import VideoInfo
from lgvsc.wire import stream_to_bytes

VIDEO = VideoInfo(576, 320, 24, 1, 240)  # 10 s at the default geometry


def test_paper_definition_numbers():
    assert source_values(576, 320, 240) == 3 * 320 * 576 * 240 == 132_710_400
    # The paper's full-system figure: ~6e-4 with QPSK rate 1/2 is ~10 kB per 10 s clip.
    bits = 10_000 * 8
    assert channel_symbols(bits, "qpsk", 0.5) == 80_000
    assert cbr_for_bits(bits, VIDEO, "qpsk", 0.5) == pytest.approx(80_000 / 132_710_400)
    assert cbr_for_bits(bits, VIDEO, "qpsk", 0.5) == pytest.approx(6.03e-4, rel=1e-3)
    assert cbr(1, 1, 1, 1, channels=1) == 1.0


def test_coding_granularity():
    assert coded_bits(1000, 0.5) == 2000
    assert coded_bits(1001, 1 / 3) == 3003
    assert coded_bits(1, 0.75) == 2
    # LDPC blocks: 6145 bits need two (6144, 9216) blocks.
    assert coded_bits(6145, block=(6144, 9216)) == 2 * 9216
    assert channel_symbols(6145, "16qam", block=(6144, 9216)) == 2 * 9216 // 4
    assert channel_symbols(3, "qpsk") == 2
    assert channel_symbols(3, 6) == 1
    with pytest.raises(ValueError, match="modulation"):
        channel_symbols(8, "qam5")
    with pytest.raises(ValueError):
        coded_bits(8, 1.5)
    with pytest.raises(ValueError):
        coded_bits(8, block=(10, 5))


def test_paper_presets_table():
    assert [(p.snr_db, p.k, p.n, p.modulation) for p in PAPER_PRESETS] == [
        (0.0, 3072, 9216, "qpsk"),
        (2.0, 4096, 8192, "qpsk"),
        (4.0, 6144, 9216, "qpsk"),
        (6.0, 6144, 8192, "qpsk"),
        (8.0, 4096, 8192, "16qam"),
        (10.0, 6144, 9216, "16qam"),
    ]
    assert paper_preset(5.0).snr_db == 4.0
    assert paper_preset(-3.0).snr_db == 0.0
    assert paper_preset(20.0).snr_db == 10.0
    assert paper_preset(8.0).code_rate == 0.5 and paper_preset(8.0).bits_per_symbol == 4
    with pytest.raises(ValueError):
        paper_preset(float("nan"))


def test_presets_match_linksim():
    linksim = pytest.importorskip("lgvsc.linksim")
    theirs = {snr: (c.k, c.n, c.modulation) for snr, c in linksim.PAPER_PRESETS.items()}
    assert theirs == {p.snr_db: (p.k, p.n, p.modulation) for p in PAPER_PRESETS}


def test_ofdm_defaults_burst_cost():
    phy = PhyDescription(mtu=96)
    assert (phy.fft_len, phy.cp_len, phy.data_carriers, phy.pilot_carriers) == (64, 16, 48, 4)
    assert phy.pdu_header_bytes == HEADER_SIZE and phy.packet_overhead_bytes == HEADER_SIZE + 4
    # 96 B PDU + CRC32 = 800 bits; QPSK on 48 carriers = 96 bits/symbol -> 9 payload symbols,
    # + 2 sync + 1 header = 12 OFDM symbols of 80 samples.
    assert phy.payload_ofdm_symbols(96) == 9
    assert phy.samples_per_pdu(96) == 12 * 80
    # A 1-byte PDU still costs sync + header + one payload symbol.
    assert phy.samples_per_pdu(1) == 4 * 80
    gapped = PhyDescription(mtu=96, gap_samples=100, code_rate=0.5, fec_tail_bits=12)
    assert gapped.payload_ofdm_symbols(96) == -(-(1600 + 12) // 96)
    assert gapped.samples_per_pdu(96) == (3 + 17) * 80 + 100
    with pytest.raises(ValueError):
        phy.samples_per_pdu(97)
    assert 0 < phy.efficiency() < 48 * 2 / 80


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data_carriers": 70},
        {"code_rate": 0.0},
        {"mtu": HEADER_SIZE},
        {"gap_samples": -1},
        {"bits_per_symbol": 0},
    ],
)
def test_phy_description_validation(kwargs):
    with pytest.raises(ValueError):
        PhyDescription(**kwargs)


def test_account_stream_both_cbrs():
    s = example_stream(kf_bytes=2000)
    phy = PhyDescription(mtu=96)
    r = account_stream(s, "qpsk", 0.5, phy=phy)
    payload = len(stream_to_bytes(s))
    pdus = packetize(s, phy.mtu)
    assert r.payload_bytes == payload
    assert r.channel_symbols == payload * 8  # QPSK r=1/2: one symbol per bit
    assert r.num_pdus == len(pdus) and r.pdu_bytes == sum(map(len, pdus))
    assert r.on_air_samples == sum(phy.samples_per_pdu(len(p)) for p in pdus)
    assert r.cbr_on_air == pytest.approx(r.on_air_samples / source_values(576, 320, 240))
    # Uncoded QPSK OFDM with headers, CRC, sync, pilots and CP still costs more than the ideal count.
    assert r.cbr_on_air > payload * 8 / 2 / source_values(576, 320, 240)
    assert "on-air CBR" in r.summary() and r.to_dict()["phy"]["fft_len"] == 64
    assert r.air_time_s == pytest.approx(r.on_air_samples / 1e6)


def test_account_pdus_with_ldpc_block():
    r = account_pdus(1000, [96] * 3, VIDEO, "16qam", block=(4096, 8192), phy=PhyDescription(mtu=96))
    assert r.channel_symbols == 2 * 8192 // 4 and r.code_rate == 0.5  # 8000 bits -> two blocks
    assert r.on_air_samples == 3 * 960


_OFDM_COUNT = r"""
import json, sys
import pmt
from gnuradio import blocks, digital, gr

out = []
for bps, sizes in json.loads(sys.argv[1]):
    tb = gr.top_block()
    data, tags = [], []
    for n in sizes:
        t = gr.tag_t()
        t.offset, t.key, t.value = len(data), pmt.intern("packet_len"), pmt.from_long(n)
        tags.append(t)
        data += [i % 256 for i in range(n)]
    sink = blocks.vector_sink_c()
    tx = digital.ofdm_tx(packet_length_tag_key="packet_len", bps_payload=bps)
    tb.connect(blocks.vector_source_b(data, False, 1, tags), tx, sink)
    tb.run()
    out.append(len(sink.data()))
print(json.dumps(out))
"""


def test_matches_real_gr_digital_ofdm_tx():
    """The PhyDescription formula counts exactly the samples stock digital.ofdm_tx emits."""
    import json
    import shutil
    import subprocess

    radio_python = "/usr/bin/python3"
    if not shutil.which(radio_python):
        pytest.skip("no system python")
    probe = subprocess.run([radio_python, "-c", "from gnuradio import digital"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("GNU Radio not installed for the system python")
    cases = [(2, [96]), (2, [1, 50, 96, 17]), (1, [96, 33])]
    res = subprocess.run(
        [radio_python, "-c", _OFDM_COUNT, json.dumps(cases)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    measured = json.loads(res.stdout.strip().splitlines()[-1])
    expected = [
        sum(PhyDescription(bits_per_symbol=bps).samples_per_pdu(n) for n in sizes) for bps, sizes in cases
    ]
    assert measured == expected


@pytest.mark.parametrize("block", [None, (6144, 9216)])
@pytest.mark.parametrize("mod, rate", [("qpsk", 0.5), ("16qam", 2 / 3), ("bpsk", 1.0)])
def test_payload_bits_for_cbr_is_the_inverse(mod, rate, block):
    for target in (1e-4, 6e-4, 1.7e-3):
        bits = payload_bits_for_cbr(target, 576, 320, 240, mod, rate, block)
        assert cbr_for_bits(bits, VIDEO, mod, rate, block) <= target
        step = block[0] if block else 1
        assert cbr_for_bits(bits + step, VIDEO, mod, rate, block) > target
    assert payload_bits_for_cbr(6e-4, 576, 320, 240) == 79_626  # ~10 kB per 10 s, QPSK r=1/2


def test_ofdm_pdu_tx_preset():
    phy = PhyDescription.ofdm_pdu_tx()
    assert (phy.mtu, phy.gap_samples, phy.code_rate, phy.bits_per_symbol) == (1500, 1024, 1.0, 2)
    # Burst PHY: CP + 4 training symbols (16 + 256), 7 coded-header symbols (672 bits / 96), then
    # 1500 B + CRC32 = 12,032 bits / 96 per symbol = 126 payload symbols (125.33 rounded up).
    assert phy.samples_per_pdu(1500) == 272 + (7 + 126) * 80 + 1024
    cc = PhyDescription.ofdm_pdu_tx(mtu=200, fec_mode="cc", payload_mod="16qam")
    # rate 1/2 tail-biting: 2 * 204 B = 3,264 bits / (48 * 4) = 17 symbols.
    assert cc.samples_per_pdu(200) == 272 + (7 + 17) * 80 + 1024
    ldpc = PhyDescription.ofdm_pdu_tx(mtu=1200, mcs="paper-10dB")
    # 16-QAM, 5G LDPC rate 2/3: 1204 B = 9,632 bits -> 2 BG1 segments of 4,816 bits, 7,224 coded bits each
    # = 14,448 bits / 192 = 76 symbols (75.25 rounded up).
    assert (ldpc.bits_per_symbol, ldpc.polar_n, ldpc.ldpc) == (4, 0, True)
    assert ldpc.samples_per_pdu(1200) == 272 + (7 + 76) * 80 + 1024
    with pytest.raises(ValueError, match="MCS"):
        PhyDescription.ofdm_pdu_tx(mcs="paper-1dB")
    with pytest.raises(ValueError, match="fec"):
        PhyDescription.ofdm_pdu_tx(fec_mode="ldpc")


_BURST_TABLE = """
import json, sys
from gnuradio.lgvsc import phy_common as pc
sizes = json.loads(sys.argv[1])
table = {name: [list(pc.MCS[name][1:]) , [pc.ofdm_burst_samples(n, name) for n in sizes]] for name in pc.MCS_NAMES}
print(json.dumps({"table": table, "polar_n": pc.POLAR_N, "crc": pc.CRC_LEN}))
"""


def test_ofdm_burst_matches_radio_side_for_every_mcs():
    """The ML-side MCS table and burst formula equal gr-lgvsc's phy_common (run by the radio's Python)."""
    import json
    import shutil
    import subprocess

    from lgvsc.accounting import OFDM_MCS, OFDM_POLAR_N

    radio_python = "/usr/bin/python3"
    if not shutil.which(radio_python):
        pytest.skip("no system python")
    probe = subprocess.run([radio_python, "-c", "from gnuradio.lgvsc import phy_common"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("gr-lgvsc not installed for the system python")
    sizes = [1, 17, 96, 255, 256, 1200, 1500]
    res = subprocess.run([radio_python, "-c", _BURST_TABLE, json.dumps(sizes)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    radio = json.loads(res.stdout.strip().splitlines()[-1])
    assert (radio["polar_n"], radio["crc"]) == (OFDM_POLAR_N, 4)
    assert list(radio["table"]) == list(OFDM_MCS)
    for name, ((mod, rate), samples) in radio["table"].items():
        assert mod == OFDM_MCS[name][1] and rate == pytest.approx(OFDM_MCS[name][2]), name
        phy = PhyDescription.ofdm_pdu_tx(mcs=name)
        assert [phy.samples_per_pdu(n) for n in sizes] == samples, name


_PSK_BURST_TABLE = """
import json, sys
from gnuradio.lgvsc.psk_pdu_tx import PSK_MCS_NAMES, psk_pdu_tx
sizes = json.loads(sys.argv[1])
tx = {(m, s, g): psk_pdu_tx(mtu=1500, payload_mod=m, sps=s, gap=g) for m, s, g in (("bpsk", 2, 256), ("qpsk", 4, 250))}
print(json.dumps({"names": list(PSK_MCS_NAMES),
                  "samples": {f"{m}/{s}/{g}/{name}": [t.samples_per_burst(n, name) for n in sizes]
                              for (m, s, g), t in tx.items() for name in PSK_MCS_NAMES}}))
"""


def test_psk_mcs_subset_and_burst_match_radio_side():
    """The ML-side PSK MCS subset and burst length equal gr-lgvsc's psk_pdu_tx (run by the radio's Python)."""
    import json
    import shutil
    import subprocess

    from lgvsc.accounting import OFDM_MCS, PSK_MCS_NAMES

    radio_python = "/usr/bin/python3"
    if not shutil.which(radio_python):
        pytest.skip("no system python")
    probe = subprocess.run([radio_python, "-c", "from gnuradio.lgvsc import psk_pdu_tx"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("gr-lgvsc not installed for the system python")
    sizes = [1, 17, 96, 255, 256, 1200, 1500]
    res = subprocess.run([radio_python, "-c", _PSK_BURST_TABLE, json.dumps(sizes)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    radio = json.loads(res.stdout.strip().splitlines()[-1])
    assert tuple(radio["names"]) == PSK_MCS_NAMES
    assert set(PSK_MCS_NAMES) <= set(OFDM_MCS)
    for key, samples in radio["samples"].items():
        mod, sps, gap, name = key.split("/")
        phy = PhyDescription.psk_pdu_tx(mtu=1500, payload_mod=mod, sps=int(sps), gap=int(gap), mcs=name)
        assert [phy.samples_per_pdu(n) for n in sizes] == samples, key
    with pytest.raises(ValueError, match="PSK MCS"):
        PhyDescription.psk_pdu_tx(mcs="paper-8dB")


_SNR_TABLE = """
import json, sys
from gnuradio.lgvsc import phy_common as pc
from gnuradio.lgvsc.link_runner import sample_snr_db
snrs = json.loads(sys.argv[1])
print(json.dumps({"ofdm": [pc.esn0_to_sample_snr_db(s) for s in snrs], "psk": [sample_snr_db(s, "psk") for s in snrs]}))
"""


def test_snr_convention_matches_radio_side():
    """--snr is Es/N0 per data subcarrier (per symbol for PSK) on both sides: the per-sample SNR the ML side gives
    `lgvsc channel` equals the one link_runner's channel model uses (docs/PHY.md "One SNR convention")."""
    import json
    import shutil
    import subprocess

    from lgvsc.loopback import emulator_snr_db

    snrs = [-1.0, 0.0, 4.5, 10.0]
    assert PhyDescription.ofdm_pdu_tx().sample_snr_db(10.0) == pytest.approx(10.0 - 0.9018, abs=1e-3)
    radio_python = "/usr/bin/python3"
    if not shutil.which(radio_python):
        pytest.skip("no system python")
    probe = subprocess.run([radio_python, "-c", "from gnuradio.lgvsc.link_runner import sample_snr_db"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("gr-lgvsc not installed for the system python")
    res = subprocess.run([radio_python, "-c", _SNR_TABLE, json.dumps(snrs)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    radio = json.loads(res.stdout.strip().splitlines()[-1])
    for phy in ("ofdm", "psk"):
        assert [emulator_snr_db(phy, s) for s in snrs] == pytest.approx(radio[phy], abs=1e-9), phy


@pytest.mark.parametrize("mod, rate", [("qpsk", 1 / 3), ("qpsk", 0.5), ("16qam", 2 / 3), ("qpsk", 1.0)])
def test_encoder_target_gives_the_mcs_budget(mod, rate):
    """The encoder's budget at encoder_target_cbr (QPSK-1/2 units) is the payload of the target at the MCS's rate."""
    from lgvsc.accounting import encoder_target_cbr
    from lgvsc.encoder import payload_bytes_for_cbr

    for target in (6e-4, 2e-3):
        budget = payload_bytes_for_cbr(encoder_target_cbr(target, mod, rate), 576, 320, 240)
        exact = payload_bits_for_cbr(target, 576, 320, 240, mod, rate) // 8
        assert abs(budget - exact) <= 1
    with pytest.raises(ValueError, match="code rate"):
        encoder_target_cbr(6e-4, "qpsk", 0)
