# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end evaluation on two short clips: a drawn scene with a cut and a carphone excerpt.

One run at two channel SNRs with the 10 dB design (16-QAM rate 2/3): 10 dB is the
matched, error-free case; 2 dB is far below that preset's cliff, so the link loses
PDUs and corrupts the H.26x bitstreams — the regime where schemes differ.
"""

from __future__ import annotations

import csv
import json
import re

import pytest

from lgvsc.evaluation import EvalConfig, run_evaluation, write_outputs
from lgvsc.samples import carphone_path, drawn_scene
from lgvsc.video import write_video

W, H = 192, 160
SNRS = (2.0, 10.0)
SCHEMES = ("lgvsc", "skim", "h264", "h265", "h264-matched", "text-only")


def _config() -> EvalConfig:
    return EvalConfig(snrs=SNRS, schemes=SCHEMES, design_snr=10.0, width=W, height=H, max_frames=36, threads=1)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval")
    scene = drawn_scene(num_frames=36, width=W, height=H, cuts=(17,), speed=3.0)
    write_video(d / "scene.mp4", scene.frames, 24)
    videos = [d / "scene.mp4", carphone_path()]
    out = d / "out"
    run = run_evaluation(videos, out, _config(), progress=False)
    paths = write_outputs(out, run, _config(), argv=["scene.mp4", "carphone_pristine.mp4"])
    return videos, out, run, paths


def _rows(run, **match):
    return [r for r in run.rows if all(r[k] == v for k, v in match.items())]


def test_every_scheme_has_a_row_per_video_and_snr(evaluated):
    videos, _, run, _ = evaluated
    assert run.computed == len(videos) * len(SCHEMES) * len(SNRS) and run.cached == 0
    for v in ("scene.mp4", "carphone_pristine.mp4"):
        for s in SCHEMES:
            for snr in SNRS:
                (row,) = _rows(run, video=v, scheme=s, snr_db=snr)
                if s == "text-only":
                    assert row["status"] == "skipped" and "text-to-video" in row["note"]
                    assert row["cbr"] > 0
                else:
                    assert row["status"] == "ok"
                    for m in ("psnr_y", "psnr_rgb"):
                        assert 0 < row[m] <= 100
                    for m in ("ssim_y", "ssim_rgb", "ms_ssim"):
                        assert 0 < row[m] <= 1


def test_h264_costs_more_channel_than_lgvsc_and_matched_never_more(evaluated):
    _, _, run, _ = evaluated
    for r in _rows(run, scheme="lgvsc"):
        (h,) = _rows(run, scheme="h264", video=r["video"], snr_db=r["snr_db"])
        assert h["cbr"] > r["cbr"]
        assert h["preset"] == r["preset"] == "paper-10dB"  # same link, same accounting
        (m,) = _rows(run, scheme="h264-matched", video=r["video"], snr_db=r["snr_db"])
        assert m["status"] == "ok" and 0 < m["payload_bytes"] <= r["payload_bytes"] == m["budget_bytes"]


def test_semantic_schemes_always_return_full_length_video(evaluated):
    _, _, run, _ = evaluated
    sem = [r for r in run.rows if r["scheme"] in ("lgvsc", "skim")]
    assert all(r["output_frames"] == r["frames"] == 36 for r in sem)
    assert any(r["pdus_lost"] > 0 for r in sem if r["snr_db"] == 2.0), "the 2 dB cells must exercise loss"
    assert all(r["pdus_lost"] == 0 and r["block_errors"] == 0 for r in sem if r["snr_db"] == 10.0)


def test_skem_and_skim_send_the_same_number_of_keyframes(evaluated):
    _, _, run, _ = evaluated
    (a,) = _rows(run, scheme="lgvsc", video="scene.mp4", snr_db=10.0)
    (b,) = _rows(run, scheme="skim", video="scene.mp4", snr_db=10.0)
    ka, kb = json.loads(a["keyframes_sent"]), json.loads(b["keyframes_sent"])
    assert len(ka) == len(kb) >= 3 and ka != kb  # SKEM found the cut; SKIM spreads the same count


def test_h26x_bit_errors_stay_in_the_bitstream(evaluated):
    _, _, run, _ = evaluated
    for codec in ("h264", "h265"):
        for r in _rows(run, scheme=codec, snr_db=2.0):
            assert r["block_errors"] > 0 and r["units_corrupted"] > 0
            assert r["output_frames"] == 36  # concealed frames are repeats/black, never missing
        for r in _rows(run, scheme=codec, snr_db=10.0):
            assert r["block_errors"] == 0 and r["decode_failures"] == 0


def test_output_files_reference_only_computed_results(evaluated):
    _, out, run, paths = evaluated
    for name in ("results.csv", "summary.csv", "metadata.json", "report.md"):
        assert (out / name).is_file()
    with open(out / "results.csv") as f:
        csv_rows = list(csv.DictReader(f))
    assert {r["cell"] for r in csv_rows} == {r["cell"] for r in run.rows}
    assert all((out / "cells" / f"{r['cell']}.json").is_file() for r in csv_rows)
    report = (out / "report.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert {"plots/quality_vs_snr.png", "plots/cbr.png", "plots/keyframes.png", "plots/frames_grid.png"} <= set(images)
    for img in images:
        assert (out / img).stat().st_size > 1000
    # The H.26x table lists the measured BLER of exactly the computed cells.
    for codec in ("h264", "h265"):
        for snr in SNRS:
            rs = [r for r in csv_rows if r["scheme"] == codec and float(r["snr_db"]) == snr]
            be = sum(int(r["block_errors"]) for r in rs)
            nb = sum(int(r["num_blocks"]) for r in rs)
            assert f"| {codec} | {snr:g} | paper-10dB (16qam) | {be / nb:.3g} | {be}/{nb} |" in report
    assert "repeat of the last delivered frame" in report
    assert "PSNR-Y (dB, BT.601)" in report and "SSIM-RGB" in report  # the convention in the table header
    assert "Equal-bytes baselines" in report
    assert "text-only" in report and "Skipped" in report
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["config"]["design_snr"] == 10.0 and meta["seeds"] == [0]
    assert meta["versions"]["sionna-no-rt"] and meta["machine"]["cpu_count"]
    assert not list(out.glob(".staging-*"))


def test_rerun_resumes_from_the_cell_cache(evaluated):
    videos, out, run, _ = evaluated
    again = run_evaluation(videos, out, _config(), progress=False)
    assert again.computed == 0 and again.cached == len(run.rows)
    key = lambda r: (r["video"], r["scheme"], r["snr_db"])  # noqa: E731
    assert [json.dumps(r, sort_keys=True) for r in sorted(again.rows, key=key)] == [
        json.dumps(r, sort_keys=True) for r in sorted(run.rows, key=key)]
    # A new SNR computes only the new cells.
    cfg = _config()
    cfg.snrs = (10.0,)
    cfg.schemes = ("h264",)
    third = run_evaluation(videos[:1], out, cfg, progress=False)
    assert third.computed == 0 and third.cached == 1
