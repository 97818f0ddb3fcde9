# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-preset budgets (the paper's CBR at every SNR), the PDU-loss sweep and the concealment counter."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from lgvsc.evaluation import EvalConfig, run_evaluation, write_outputs
from lgvsc.samples import drawn_scene
from lgvsc.video import VideoClip, write_video

PAPER_CBR = (6.1e-4, 6.6e-4)


@pytest.mark.slow
def test_lgvsc_cbr_is_the_papers_at_0_and_10_db(tmp_path):
    # 576x320, 80 frames: one LDPC block is < 1e-4 of CBR here, so whole blocks can land in the range.
    scene = drawn_scene(num_frames=80, width=576, height=320, cuts=(40,), speed=3.0)
    write_video(tmp_path / "scene.mp4", scene.frames, 24)
    cfg = EvalConfig(snrs=(0.0, 10.0), schemes=("lgvsc",), width=576, height=320, threads=1)
    run = run_evaluation([tmp_path / "scene.mp4"], tmp_path / "out", cfg, progress=False)
    rows = {r["snr_db"]: r for r in run.rows}
    for snr in (0.0, 10.0):
        assert PAPER_CBR[0] * 0.9 <= rows[snr]["cbr"] <= PAPER_CBR[1] * 1.1, (snr, rows[snr]["cbr"])
    # 16-QAM rate 2/3 carries 2.67x the bits of QPSK rate 1/3 per symbol: a larger stream at the same CBR.
    assert rows[10.0]["payload_bytes"] > 2 * rows[0.0]["payload_bytes"]


@pytest.fixture(scope="module")
def loss_sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    scene = drawn_scene(num_frames=30, width=192, height=128, cuts=(15,), speed=3.0)
    write_video(d / "scene.mp4", scene.frames, 24)
    cfg = EvalConfig(snrs=(10.0,), losses=(0.0, 0.1, 0.3), burst=3.0, width=192, height=128, threads=1,
                     schemes=("lgvsc", "skim", "h264", "h264-matched", "h265-matched", "av1-matched"))
    run = run_evaluation([d / "scene.mp4"], d / "out", cfg, progress=False)
    write_outputs(d / "out", run, cfg)
    return d / "out", run, cfg


def test_loss_sweep_gives_the_source_frame_count_for_every_scheme_and_loss(loss_sweep):
    _, run, cfg = loss_sweep
    for scheme in cfg.schemes:
        for loss in cfg.losses:
            (r,) = [r for r in run.rows if r["scheme"] == scheme and r["loss"] == loss]
            assert r["status"] == "ok", (scheme, loss, r.get("note"))
            assert r["output_frames"] == r["frames"] == 30
            if loss == 0:
                assert r["pdus_dropped_by_loss"] == 0
    lost = [r for r in run.rows if r["loss"] == 0.3]
    assert sum(r["pdus_dropped_by_loss"] for r in lost) > 0
    assert any(r["frames_concealed"] > 0 for r in lost)


def test_loss_sweep_report_plots_quality_vs_loss_and_states_the_verdict(loss_sweep):
    out, _, _ = loss_sweep
    report = (out / "report.md").read_text()
    assert "plots/quality_vs_loss.png" in report and (out / "plots" / "quality_vs_loss.png").stat().st_size > 1000
    assert "Graceful degradation versus the cliff" in report
    assert re.search(r"\*\*(Holds|Does not hold|Not shown)\*\*", report)
    assert "Gilbert–Elliott, mean burst 3" in report


def test_frames_concealed_counts_a_dropped_keyframe():
    from lgvsc.evaluation.schemes import SemanticScheme
    from lgvsc.profiles import build_backends

    d = drawn_scene(num_frames=30, width=96, height=64, cuts=(15,), speed=3.0)
    clip = VideoClip(d.frames, Fraction(24))
    s = SemanticScheme("skem", build_backends(), mtu=200)
    prep = s.prepare(clip)
    clean = s.receive(clip, prep, list(prep.units))
    assert clean.stats["frames_concealed"] == 0 and clean.stats["keyframes_lost"] == []
    # Keep only the first PDU (it starts with a header copy): every keyframe is lost and concealed.
    first_only = [prep.units[0]] + [None] * (len(prep.units) - 1)
    rec = s.receive(clip, prep, first_only)
    assert rec.stats["keyframes_lost"] and rec.stats["frames_concealed"] > 0
    assert len(rec.frames) == clip.num_frames
