# SPDX-License-Identifier: GPL-3.0-or-later
"""Link-level simulation: calibration against theory, coding gain, exact payload, accounting."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from lgvsc.cli import main
from lgvsc.linksim import (
    PAPER_PRESETS,
    LinkConfig,
    LinkSimulator,
    bytes_to_bits,
    preset_for_design_snr,
    qam_ber_awgn,
)

torch.set_num_threads(1)


def _rayleigh_qpsk_ber(snr_db: float) -> float:
    """Uncoded Gray QPSK over flat Rayleigh with perfect CSI at average Es/N0 = snr_db."""
    g = 10 ** (snr_db / 10) / 2  # per-bit (per real dimension) average SNR
    return 0.5 * (1 - math.sqrt(g / (1 + g)))


@pytest.mark.parametrize("snr_db", [0.0, 4.0, 7.0])
def test_uncoded_qpsk_awgn_matches_closed_form(snr_db):
    # 400k bits: the relative standard error at BER 4e-3 (7 dB) is ~2.5 %; tolerance 10 %.
    nbits = 400_000
    bits = np.random.default_rng(1).integers(0, 2, nbits)
    res = LinkSimulator(LinkConfig.uncoded(20_000)).run_bits(bits, snr_db, seed=3)
    theory = qam_ber_awgn(snr_db)
    assert res.ber == pytest.approx(theory, rel=0.10)


@pytest.mark.parametrize("channel", ["rayleigh", "tdl-c", "cdl-c"])
def test_uncoded_qpsk_fading_matches_rayleigh_closed_form(channel):
    # A TDL-C or CDL-C subcarrier gain (no LoS, taps summing to unit power) is CN(0, 1) marginally,
    # so these channels follow the flat-Rayleigh formula on average. Tolerance 10 %.
    nbits = 200_000
    bits = np.random.default_rng(2).integers(0, 2, nbits)
    # One OFDM symbol (100 subcarriers) per block, one realisation per block: 1000 realisations with
    # ~5 independent fades each (coherence bandwidth ~ 1 / (5 * 300 ns)), enough for 10 %.
    sim = LinkSimulator(LinkConfig.uncoded(200), channel, num_subcarriers=100, batch_blocks=250)
    res = sim.run_bits(bits, 10.0, seed=4)
    assert res.ber == pytest.approx(_rayleigh_qpsk_ber(10.0), rel=0.10)
    # ... and much worse than AWGN at the same average SNR.
    assert res.ber > 50 * qam_ber_awgn(10.0)


def test_uncoded_qpsk_cdl_d_los_between_awgn_and_rayleigh():
    # CDL-D has a strong LoS ray (K = 13.3 dB): far better than Rayleigh, worse than AWGN.
    bits = np.random.default_rng(2).integers(0, 2, 100_000)
    sim = LinkSimulator(LinkConfig.uncoded(200), "cdl-d", num_subcarriers=100, batch_blocks=250)
    ber = sim.run_bits(bits, 10.0, seed=4).ber
    assert 1.2 * qam_ber_awgn(10.0) < ber < _rayleigh_qpsk_ber(10.0) / 4


def test_coded_bler_falls_with_snr():
    cfg = LinkConfig(256, 512, "qpsk", name="small")
    sim = LinkSimulator(cfg)
    bits = np.random.default_rng(5).integers(0, 2, 256 * 100)
    blers = [sim.run_bits(bits, snr, seed=6).bler for snr in (-4.0, -1.0, 0.5, 3.0)]
    assert blers[0] > 0.9
    assert blers[-1] == 0.0
    assert all(a >= b for a, b in zip(blers, blers[1:], strict=False)), blers
    assert blers[0] > blers[2]


def test_paper_preset_returns_payload_exactly_at_design_snr():
    payload = bytes(range(256)) * 12  # 3072 bytes = 24576 bits = 4 blocks of k=6144
    cfg = preset_for_design_snr(4.0)
    res = LinkSimulator(cfg).run_bytes(payload, snr_db=4.0, seed=7)
    assert res.bler == 0.0 and res.ber == 0.0
    assert res.payload == payload


def test_payload_corrupted_far_below_design_snr():
    payload = bytes(range(256)) * 4
    res = LinkSimulator(PAPER_PRESETS[10.0]).run_bytes(payload, snr_db=4.0, seed=7)
    assert res.bler == 1.0 and res.payload != payload


@pytest.mark.parametrize("design", sorted(PAPER_PRESETS))
def test_symbol_count_is_n_over_bits_per_symbol_per_block(design):
    cfg = PAPER_PRESETS[design]
    nbits = cfg.k * 2 + 5  # 3 blocks, the last one padded
    res = LinkSimulator(cfg, num_iter=1).run_bits(np.random.default_rng(1).integers(0, 2, nbits), 30.0, seed=0, return_symbols=True)
    assert res.num_blocks == 3
    assert res.num_channel_symbols == 3 * cfg.n // cfg.bits_per_symbol
    assert res.tx_symbols.shape == (3, cfg.n // cfg.bits_per_symbol)
    assert res.tx_symbols.dtype == np.complex64
    # unit average symbol energy (the Es of Es/N0) over the two full, random blocks
    assert np.mean(np.abs(res.tx_symbols[:2]) ** 2) == pytest.approx(1.0, rel=0.02)
    assert res.bits.size == nbits


def test_seed_reproducible():
    cfg = LinkConfig(128, 384, "16qam")
    bits = np.random.default_rng(0).integers(0, 2, 128 * 20)
    sim = LinkSimulator(cfg, "rayleigh")
    a = sim.run_bits(bits, 6.0, seed=11, return_symbols=True)
    b = sim.run_bits(bits, 6.0, seed=11, return_symbols=True)
    c = sim.run_bits(bits, 6.0, seed=12, return_symbols=True)
    assert np.array_equal(a.rx_symbols, b.rx_symbols) and np.array_equal(a.bits, b.bits)
    assert not np.array_equal(a.rx_symbols, c.rx_symbols)


def test_preset_table_and_selection():
    assert [(c.k, c.n, c.modulation) for _, c in sorted(PAPER_PRESETS.items())] == [
        (3072, 9216, "qpsk"), (4096, 8192, "qpsk"), (6144, 9216, "qpsk"),
        (6144, 8192, "qpsk"), (4096, 8192, "16qam"), (6144, 9216, "16qam"),
    ]
    assert preset_for_design_snr(5.9) is PAPER_PRESETS[4.0]
    assert preset_for_design_snr(12.0) is PAPER_PRESETS[10.0]
    assert preset_for_design_snr(-3.0) is PAPER_PRESETS[0.0]


@pytest.mark.parametrize("kwargs, match", [
    (dict(k=100, n=202, modulation="16qam"), "multiple of 4"),
    (dict(k=200, n=100), "rate"),
    (dict(k=5, n=100), "12 <= k"),
    (dict(k=100, n=200, modulation="8psk"), "unknown modulation"),
])
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LinkConfig(**kwargs)


def test_bad_channel():
    with pytest.raises(ValueError, match="unknown link channel"):
        LinkSimulator(PAPER_PRESETS[0.0], "cdl-z")


def test_bytes_bits_msb_first():
    assert list(bytes_to_bits(b"\x80\x01")) == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]


def test_cli_file_roundtrip(tmp_path, capsys):
    src = tmp_path / "in.bin"
    dst = tmp_path / "out.bin"
    data = np.random.default_rng(9).integers(0, 256, 1500, dtype=np.uint8).tobytes()
    src.write_bytes(data)
    rc = main(["linksim", "-i", str(src), "-o", str(dst), "--design-snr", "6", "--snr", "6", "--seed", "2"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip())
    assert out["preset"] == "paper-6dB" and out["bler"] == 0.0 and out["n"] == 8192
    assert dst.read_bytes() == data


def test_cli_sweep_fixed_design(capsys):
    rc = main(["linksim", "--random-bits", "4096", "--preset", "paper-2dB", "--snr", "-2", "6"])
    assert rc == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.split("\n") if x.strip()]
    assert [x["snr_db"] for x in lines] == [-2.0, 6.0]
    assert all(x["k"] == 4096 and x["n"] == 8192 for x in lines)
    assert lines[0]["bler"] == 1.0 and lines[1]["bler"] == 0.0


@pytest.mark.parametrize("argv, msg", [
    (["--channel", "foo"], "unknown channel"),
    (["--channel", "cdl-f"], "unknown channel"),
    (["--channel", "cdl-c", "--carrier-frequency", "-1"], "carrier frequency"),
    (["--preset", "paper-3dB"], "unknown preset"),
    (["--k", "100"], "--k and --n"),
    (["--k", "100", "--n", "150", "--modulation", "16qam"], "multiple of 4"),
    (["--input", "/nonexistent/x"], "cannot read"),
])
def test_cli_bad_arguments(argv, msg, capsys):
    rc = main(["linksim", "--snr", "3", *argv])
    assert rc == 2
    assert msg in capsys.readouterr().err
