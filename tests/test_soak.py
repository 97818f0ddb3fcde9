# SPDX-License-Identifier: GPL-3.0-or-later
"""Soak: ``lgvsc loopback --respawn 2`` on a 30 s clip while the decoder worker is SIGKILLed twice and
the encoder worker once, each at a point chosen by the link's progress (PDUs on air), never by a sleep.
The run still ends with a full-length video, and report.json counts the respawns and what was concealed.
Real workers, a real GNU Radio flowgraph, the CLI's own ``main`` (docs/hardening.md, "Respawn")."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

#: 30 s at 12 fps, at a reduced size (192x108) so that a loaded 2-core machine encodes it twice in time.
SECONDS, FPS, W, H = 30, 12, 192, 108


@pytest.fixture(scope="module")
def clip_30s(tmp_path_factory) -> Path:
    from lgvsc.samples import drawn_scene
    from lgvsc.video import write_video

    n = SECONDS * FPS
    path = tmp_path_factory.mktemp("soak") / "soak30.mp4"
    # a cut every 2.5 s: 12 keyframes, so that a late decoder has keyframes to conceal
    clip = drawn_scene(num_frames=n, width=W, height=H, fps=FPS, cuts=tuple(range(30, n, 30)), speed=0.5)
    write_video(path, clip.frames, FPS)
    return path


@pytest.fixture
def gr_process_env(gr_env, monkeypatch):
    """The run is in this process (its progress hooks); its children get the radio overlay of gr_env."""
    monkeypatch.setenv("PYTHONPATH", gr_env["PYTHONPATH"])
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)


@pytest.mark.slow
def test_soak_decoder_killed_twice_encoder_once_gives_a_full_length_concealed_video(clip_30s, gr_process_env,
                                                                                    tmp_path, capsys):
    from lgvsc import loopback
    from lgvsc.cli import main
    from lgvsc.video import probe_video

    # (who, at this fraction of the first pass's PDUs on air): the encoder first, so its re-sent stream
    # still carries the decoder kills; the last decoder only sees the tail of the stream.
    plan = [("encoder worker", 0.3), ("decoder worker", 0.6), ("decoder worker", 1.0)]
    killed: list[tuple[str, int, int]] = []  # (who, pid, tx_pdus at the kill)

    def hook(stage: str, pids: dict[str, int], link: dict) -> None:
        if len(killed) == len(plan):
            return
        who, frac = plan[len(killed)]
        if killed and pids[killed[-1][0]] == killed[-1][1]:
            return  # the last one killed is not replaced yet
        tx, total = int(link.get("tx_pdus") or 0), int(link.get("total_pdus") or 0)
        if total and tx >= frac * total:
            os.kill(pids[who], signal.SIGKILL)
            killed.append((who, pids[who], tx))

    out = tmp_path / "out"
    loopback.progress_hooks.append(hook)
    try:
        code = main(["loopback", str(clip_30s), "-o", str(out), "--width", str(W), "--height", str(H),
                     "--fps", str(FPS), "--snr", "30", "--mtu", "64", "--samp-rate", "50000",
                     "--respawn", "2", "--no-progress"])
    finally:
        loopback.progress_hooks.remove(hook)
    err = capsys.readouterr().err
    assert code == 0, err
    assert [k[0] for k in killed] == [p[0] for p in plan], killed
    assert err.count("respawning it") == 3, err

    video = probe_video(out / "reconstruction.mp4")
    assert video.num_frames == SECONDS * FPS  # full length
    report = json.loads((out / "report.json").read_text())
    assert report["respawns"] == {"decoder worker": 2, "encoder worker": 1}
    dec = report["decoder"]
    assert dec["num_frames"] == SECONDS * FPS
    # the last decoder came in late: what it never saw was concealed, and the report says how much
    assert dec["decode"]["keyframes_concealed"], dec["decode"]
    assert dec["decode"]["concealed"] is True
    assert dec["missing"]["pdus_lost"] > 0, dec["missing"]
    assert "workers respawned: decoder worker 2, encoder worker 1" in (out / "report.md").read_text()


@pytest.mark.parametrize("value", ["-1", "101"])
def test_a_bad_respawn_count_is_refused_before_any_process_starts(value, tmp_path, capsys):
    from lgvsc.cli import main

    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    code = main(["loopback", str(video), "-o", str(tmp_path / "o"), "--respawn", value, "--no-progress"])
    assert code != 0
    err = capsys.readouterr().err
    assert "--respawn" in err and "Traceback" not in err


@pytest.mark.slow
def test_a_decoder_killed_at_finish_is_respawned_and_the_finish_request_goes_to_the_new_one(short_clip,
                                                                                           gr_process_env,
                                                                                           tmp_path, capsys):
    """Everything was on air before the kill, so the new decoder has only the session: a full-length
    video that is all concealment, and a report that says so (``all_grey``)."""
    from lgvsc import loopback
    from lgvsc.cli import main
    from lgvsc.video import probe_video

    killed: list[int] = []

    def hook(stage: str, pids: dict[str, int]) -> None:
        if stage == "finish" and not killed:
            os.kill(pids["decoder worker"], signal.SIGKILL)
            killed.append(pids["decoder worker"])

    out = tmp_path / "out"
    loopback.stage_hooks.append(hook)
    try:
        code = main(["loopback", str(short_clip), "-o", str(out), "--width", "192", "--height", "108",
                     "--snr", "30", "--respawn", "1", "--no-progress"])
    finally:
        loopback.stage_hooks.remove(hook)
    err = capsys.readouterr().err
    assert code == 0, err
    assert killed and err.count("respawning it (1/1)") == 1, err
    report = json.loads((out / "report.json").read_text())
    assert report["respawns"] == {"decoder worker": 1, "encoder worker": 0}
    assert probe_video(out / "reconstruction.mp4").num_frames == report["video"]["num_frames"] == 36
    assert report["decoder"]["decode"]["all_grey"] is True
