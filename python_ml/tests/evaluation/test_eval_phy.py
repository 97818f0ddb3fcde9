# SPDX-License-Identifier: GPL-3.0-or-later
"""``--transport phy``: the semantic schemes through the real GNU Radio PHY (the loopback), LPIPS/DISTS on.

One 36-frame 192x108 clip: at 20 dB (OFDM, no FEC, AWGN in the flowgraph) every PDU arrives;
at -10 dB nothing does, not even a header copy, and the cell is the all-grey full-length video.
The H.26x baselines are skipped over this transport with their reason.
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
    cfg = EvalConfig(snrs=(-10.0, 20.0), schemes=("lgvsc", "h264"), transport="phy", width=W, height=H,
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

    for snr in (-10.0, 20.0):
        h = rows[("h264", snr)]
        assert h["status"] == "skipped" and "not carried over the phy transport" in h["note"] and h["cbr"] > 0

    report = (out / "report.md").read_text()
    assert "Transport: **phy**" in report and "LPIPS" in report and "On-air CBR measured" in report
    with open(out / "results.csv") as f:
        assert len(list(csv.DictReader(f))) == 4
    # resume: nothing is recomputed (no radio run)
    again = run_evaluation([tmp_path / "scene.mp4"], out, cfg, progress=False)
    assert again.computed == 0 and again.cached == 4


def test_phy_transport_rejects_channels_it_does_not_offer():
    with pytest.raises(UserError, match="not offered by the phy transport"):
        EvalConfig(transport="phy", channel="rayleigh-block").validate()
    with pytest.raises(UserError, match="unknown FEC"):
        EvalConfig(transport="phy", fec="ldpc").validate()
    with pytest.raises(UserError, match="--lpips-weights: /nonexistent"):
        EvalConfig(lpips_weights=("/nonexistent",)).validate()
