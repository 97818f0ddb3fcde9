# SPDX-License-Identifier: GPL-3.0-or-later
"""``--transport phy``: every scheme through the real GNU Radio PHY, at the cell's MCS.

One 36-frame 192x108 clip, lgvsc with LPIPS/DISTS on: at 20 dB (OFDM, MCS auto = paper-10dB,
AWGN in the flowgraph) every PDU arrives; at -10 dB (paper-0dB) nothing does, not even a header
copy, and the cell is the all-grey full-length video. A lean run sends H.264's bitstream as PDUs
through the same PHY (``phy_pdu_runner.py``) beside lgvsc and checks that the CBR follows the MCS.
"""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch
from safetensors.torch import save_file

from lgvsc.errors import UserError
from lgvsc.evaluation import EvalConfig, run_evaluation, write_outputs
from lgvsc.samples import drawn_scene
from lgvsc.video import write_video

W, H, N = 192, 108, 36


def _gnuradio_or_skip() -> None:
    from lgvsc.loopback import check_gnuradio

    try:
        check_gnuradio("/usr/bin/python3")
    except UserError as exc:
        pytest.skip(f"no GNU Radio with gr-lgvsc: {exc}")


def _random_weights(d):
    from lgvsc.metrics.dists import DistsVGG
    from lgvsc.metrics.lpips import LpipsVGG

    torch.manual_seed(0)
    lp = LpipsVGG()
    for i in range(5):
        getattr(lp, f"lin{i}").model[1].weight.data.abs_()
    save_file(lp.state_dict(), str(d / "lpips.safetensors"))
    save_file(DistsVGG().state_dict(), str(d / "dists.safetensors"))
    return d / "lpips.safetensors", d / "dists.safetensors"


@pytest.mark.slow
def test_phy_transport_runs_the_loopback_per_snr_and_maps_its_results(tmp_path):
    _gnuradio_or_skip()
    scene = drawn_scene(num_frames=N, width=W, height=H, cuts=(17,), speed=3.0)
    write_video(tmp_path / "scene.mp4", scene.frames, 24)
    lp, di = _random_weights(tmp_path)
    cfg = EvalConfig(snrs=(-10.0, 20.0), schemes=("lgvsc",), transport="phy", width=W, height=H,
                     threads=1, lpips_weights=(str(lp),), dists_weights=(str(di),), perceptual_frames=4)
    out = tmp_path / "out"
    run = run_evaluation([tmp_path / "scene.mp4"], out, cfg, progress=False)
    write_outputs(out, run, cfg)
    rows = {(r["scheme"], r["snr_db"]): r for r in run.rows}

    good = rows[("lgvsc", 20.0)]
    assert good["status"] == "ok" and good["transport"] == "phy" and good["output_frames"] == N
    assert good["pdus_sent"] > 0 and good["pdus_lost"] == 0 and good["bler"] == 0
    assert not good["header_lost"] and json.loads(good["keyframes_lost"]) == []
    # on-air CBR measured from the samples the flowgraph sent: sync, headers, CRC and gaps cost extra
    assert good["cbr_link"] > good["cbr"] > 0
    assert (out / "cells" / good["loopback_dir"] / "report.json").exists()
    assert good["psnr_rgb"] > 15 and math.isfinite(good["lpips"]) and math.isfinite(good["dists"])

    lost = rows[("lgvsc", -10.0)]
    assert lost["status"] == "ok" and lost["header_lost"] and lost["output_frames"] == N
    assert lost["psnr_rgb"] < good["psnr_rgb"] and lost["lpips"] > good["lpips"] and lost["dists"] > good["dists"]
    # the loopback knows the session out of band, so its link counters are measured even here
    assert lost["pdus_sent"] > 0 and lost["pdus_lost"] == lost["pdus_sent"] and lost["cbr_link"] > 0

    assert good["mcs"] == "paper-10dB" and lost["mcs"] == "paper-0dB"

    report = (out / "report.md").read_text()
    assert "Transport: **phy**" in report and "LPIPS" in report and "On-air CBR measured" in report
    with open(out / "results.csv") as f:
        assert len(list(csv.DictReader(f))) == 2
    # resume: nothing is recomputed (no radio run)
    again = run_evaluation([tmp_path / "scene.mp4"], out, cfg, progress=False)
    assert again.computed == 0 and again.cached == 2


def test_h264_and_lgvsc_run_through_the_phy_at_the_cells_mcs(tmp_path):
    _gnuradio_or_skip()
    from lgvsc.accounting import cbr_for_bits

    n, w, h = 48, 256, 144  # the smallest clip whose paper-CBR budget (~870 B here) holds 2 keyframes
    scene = drawn_scene(num_frames=n, width=w, height=h, cuts=(24,), speed=3.0)
    write_video(tmp_path / "scene.mp4", scene.frames, 24)
    # 9 dB: auto takes paper-8dB (16-QAM, polar rate 1/2), about 2 dB above its working point
    cfg = EvalConfig(snrs=(9.0,), schemes=("lgvsc", "h264"), transport="phy", width=w, height=h, threads=1)
    run = run_evaluation([tmp_path / "scene.mp4"], tmp_path / "out", cfg, progress=False)
    write_outputs(tmp_path / "out", run, cfg)
    rows = {r["scheme"]: r for r in run.rows}
    for name in ("lgvsc", "h264"):
        r = rows[name]
        assert r["status"] == "ok", r.get("note")
        assert r["frames"] == n and r["output_frames"] == n and r["transport"] == "phy"
        assert r["mcs"] == "paper-8dB" and r["modulation"] == "16qam" and r["code_rate"] == 0.5
        info = type("V", (), {"width": w, "height": h, "num_frames": n})()
        assert r["cbr"] == pytest.approx(cbr_for_bits(r["payload_bytes"] * 8, info, "16qam", code_rate=0.5))
        assert r["pdus_sent"] > 0 and r["cbr_link"] > r["cbr"]
    # lgvsc's budget is the paper CBR at this MCS; the QP-51 bitstream is larger and went through as PDUs
    assert 0 < rows["lgvsc"]["cbr"] <= 6.6e-4
    assert rows["h264"]["pdus_sent"] == rows["h264"]["num_pdus"]
    assert rows["h264"]["pdus_lost"] <= 1 and rows["h264"]["psnr_rgb"] > 15
    report = (tmp_path / "out" / "report.md").read_text()
    assert "phy_pdu_runner.py" in report and "| h264 |" in report
    assert "budget of its own MCS" in report


def test_auto_mcs_is_the_highest_paper_preset_at_or_below_the_cells_snr():
    from lgvsc.evaluation.phy import cell_mcs, mcs_rate

    assert cell_mcs(-3.0, "auto", "ofdm", "none") == "paper-0dB"
    assert cell_mcs(5.9, "auto", "ofdm", "none") == "paper-4dB"
    assert cell_mcs(12.0, "auto", "ofdm", "none") == "paper-10dB"
    assert cell_mcs(12.0, "paper-2dB", "ofdm", "none") == "paper-2dB"
    # the PSK PHY carries the BPSK/QPSK subset: auto caps at its most capable preset
    assert cell_mcs(12.0, "auto", "psk", "cc") == "paper-6dB"
    assert cell_mcs(2.5, "auto", "psk", "cc") == "paper-2dB" and cell_mcs(-1.0, "auto", "psk", "none") == "paper-0dB"
    assert cell_mcs(12.0, "", "psk", "cc") == "cc"
    assert mcs_rate("paper-8dB", "ofdm") == ("16qam", 0.5) and mcs_rate("none", "psk") == ("bpsk", 1.0)


def test_phy_transport_rejects_channels_it_does_not_offer():
    with pytest.raises(UserError, match="not offered by the phy transport"):
        EvalConfig(transport="phy", channel="rayleigh-block").validate()
    with pytest.raises(UserError, match="unknown MCS"):
        EvalConfig(transport="phy", mcs="paper-3dB").validate()
    with pytest.raises(UserError, match="unknown MCS 'paper-8dB' for the psk PHY"):
        EvalConfig(transport="phy", phy="psk", mcs="paper-8dB").validate()
    with pytest.raises(UserError, match="unknown FEC"):
        EvalConfig(transport="phy", fec="ldpc").validate()
    with pytest.raises(UserError, match="--lpips-weights: /nonexistent"):
        EvalConfig(lpips_weights=("/nonexistent",)).validate()


def test_the_mirrored_mcs_table_matches_gr_lgvsc():
    _gnuradio_or_skip()
    import subprocess

    from lgvsc.accounting import OFDM_MCS_NAMES
    from lgvsc.evaluation.phy import PHY_MCS

    code = ("import json; from gnuradio.lgvsc import phy_common as pc; "
            "print(json.dumps({k: [v[1], v[2], pc.PAPER_MCS_SNR_DB.get(k)] for k, v in pc.MCS.items()}))")
    out = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == {k: [m, r, s] for k, (m, r, s) in PHY_MCS.items()}
    assert tuple(PHY_MCS) == OFDM_MCS_NAMES


def test_pdu_cell_runs_the_psk_phy_at_the_cells_mcs(tmp_path):
    """H.26x PDUs over the PSK PHY go out in the cell's MCS: the samples sent are paper-2dB's PSK bursts."""
    _gnuradio_or_skip()
    from lgvsc.accounting import PhyDescription
    from lgvsc.evaluation.phy import run_pdu_cell

    pdus = [bytes([i]) * n for i, n in enumerate((40, 300, 1200, 700))]
    out = run_pdu_cell(pdus, 20.0, 1, tmp_path / "cell", phy="psk", fec="none", mcs="paper-2dB", mtu=1200)
    assert out.received == pdus
    model = PhyDescription.psk_pdu_tx(mtu=1200, mcs="paper-2dB")
    assert out.stats["samples_tx"] == sum(model.samples_per_pdu(len(p)) for p in pdus)
