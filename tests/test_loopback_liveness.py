# SPDX-License-Identifier: GPL-3.0-or-later
"""``lgvsc loopback`` watches its children: a worker SIGKILLed at each stage ends the run with one
clear line and exit status 2 within 5 s (3 for the radio flowgraph), or, where the design allows it
(the encoder dies while the link runs), with a full-length concealed video; bad options are refused
before any process starts. Real workers, a real GNU Radio flowgraph, the CLI's own ``main``."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

WHO = {"decoder": "decoder worker", "encoder": "encoder worker", "link": "radio flowgraph"}


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """240 frames with two cuts: at --samp-rate 50000 and --mtu 100 it is on air for several seconds."""
    from lgvsc.samples import drawn_scene
    from lgvsc.video import write_video

    path = tmp_path_factory.mktemp("clip") / "long.mp4"
    write_video(path, drawn_scene(num_frames=240, width=192, height=108, fps=24, cuts=(80, 160)).frames, 24)
    return path


@pytest.fixture
def gr_process_env(gr_env, monkeypatch):
    """The run is in this process (its stage hooks); its children get the radio overlay of gr_env."""
    monkeypatch.setenv("PYTHONPATH", gr_env["PYTHONPATH"])
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)


def _pid_of(name: str, pids: dict[str, int]) -> int:
    if name == "link":  # the link runner: this process's child running gnuradio.lgvsc.link_runner
        for entry in Path("/proc").iterdir():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid == os.getpid() and b"link_runner" in (entry / "cmdline").read_bytes():
                    return int(entry.name)
            except (OSError, ValueError, IndexError):
                continue
        raise AssertionError("no link runner")
    return pids[WHO[name]]


def _run_and_kill(args: list, who: str, stage: str, capsys) -> tuple[int, str, float]:
    """Run the CLI, SIGKILL ``who`` when ``stage`` starts; (exit status, stderr, seconds from kill to exit)."""
    from lgvsc import loopback
    from lgvsc.cli import main

    killed: list[float] = []

    def hook(at: str, pids: dict[str, int]) -> None:
        if at == stage and not killed:
            os.kill(_pid_of(who, pids), signal.SIGKILL)
            killed.append(time.monotonic())

    loopback.stage_hooks.append(hook)
    try:
        code = main(["loopback", *map(str, args), "--no-progress"])
    finally:
        loopback.stage_hooks.remove(hook)
    assert killed, f"stage {stage} never started"
    return code, capsys.readouterr().err, time.monotonic() - killed[0]


FAST = ["--width", 192, "--height", 108, "--snr", 30]
SLOW_LINK = [*FAST, "--mtu", 100, "--samp-rate", 50000]


@pytest.mark.slow
@pytest.mark.parametrize(("who", "stage"), [("decoder", "encode"), ("encoder", "encode"),
                                            ("decoder", "link"), ("decoder", "finish"), ("link", "link")])
def test_a_killed_child_ends_the_run_with_one_clear_line(who, stage, short_clip, long_clip, gr_process_env,
                                                         tmp_path, capsys):
    clip, opts = (long_clip, SLOW_LINK) if stage == "link" else (short_clip, FAST)
    out = tmp_path / "o"
    code, err, took = _run_and_kill([clip, *opts, "-o", out], who, stage, capsys)
    assert code == (3 if who == "link" else 2), err[-2000:]
    assert took < 5.0, f"{took:.1f} s from the kill to the end of the run"
    assert "Traceback" not in err
    line = next(ln for ln in err.splitlines() if ln.startswith("lgvsc loopback: error:"))
    assert WHO[who] in line and "SIGKILL" in line, line
    assert not (out / "report.md").exists() and not (out / "reconstruction.mp4").exists()
    assert not any(p.name.startswith(".partial") for p in out.iterdir())


@pytest.mark.slow
def test_an_encoder_killed_on_air_still_gives_a_full_length_concealed_video(long_clip, gr_process_env,
                                                                            tmp_path, capsys):
    out = tmp_path / "o"
    code, err, _ = _run_and_kill([long_clip, *SLOW_LINK, "-o", out], "encoder", "link", capsys)
    assert code == 0, err[-2000:]
    assert "warning: the encoder worker" in err and "SIGKILL" in err and "Traceback" not in err
    report = json.loads((out / "report.json").read_text())
    assert report["video"]["full_length"] is True and report["video"]["reconstruction_frames"] == 240
    assert "encoder worker" in report["link"]["cut_short"]
    assert report["decoder"]["decode"]["concealed"] is True


@pytest.mark.slow
def test_an_encoder_killed_after_the_link_does_not_matter(short_clip, gr_process_env, tmp_path, capsys):
    out = tmp_path / "o"
    code, err, _ = _run_and_kill([short_clip, *FAST, "-o", out], "encoder", "finish", capsys)
    assert code == 0, err[-2000:]
    assert json.loads((out / "report.json").read_text())["video"]["full_length"] is True


@pytest.mark.parametrize(("option", "message"), [
    (["--width", "577"], "--width and --height must be even (H.264 yuv420p), got 577x320"),
    (["--height", "0"], "--height must be a positive integer, got 0"),
    (["--fps", "0"], "--fps must lie in (0, 240], got 0.0"),
    (["--snr=-inf"], "--snr must be a finite number of dB, got -inf"),
    (["--snr", "nan"], "--snr must be a finite number of dB, got nan"),
    (["--threshold", "2"], "--threshold: S_rel thresholds lie in [-1, 1], got 2.0"),
    (["--target-cbr", "0"], "--target-cbr must be positive"),
    (["--samp-rate", "inf"], "--samp-rate must be a positive number, got inf"),
    (["--timeout", "0"], "--timeout must be a positive number, got 0.0"),
    (["--drop-every", "1"], "--drop-every must be 0 (off) or >= 2, got 1"),
    (["--mtu", "20"], "--mtu must be in 64..4000 bytes, got 20"),
    (["--doppler", "nan"], "--doppler must be a finite number, got nan"),
])
def test_bad_options_are_refused_before_any_process_starts(option, message, short_clip, tmp_path, capsys,
                                                           monkeypatch):
    import subprocess

    from lgvsc.cli import main

    def no_process(*a, **k):
        raise AssertionError(f"a process was started: {a[0] if a else k}")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    monkeypatch.setattr(subprocess, "run", no_process)
    out = tmp_path / "o"
    assert main(["loopback", str(short_clip), "-o", str(out), *option]) == 2
    err = capsys.readouterr().err
    assert f"lgvsc loopback: error: {message}" in err, err
    assert not out.exists()


def test_width_message_is_the_one_of_lgvsc_encode(short_clip, tmp_path, capsys):
    from lgvsc.cli import main

    assert main(["encode", str(short_clip), "-o", str(tmp_path / "s.lgvs"), "--width", "577"]) == 2
    enc = capsys.readouterr().err.split("error: ", 1)[1].strip()
    assert main(["loopback", str(short_clip), "-o", str(tmp_path / "o"), "--width", "577"]) == 2
    assert capsys.readouterr().err.split("error: ", 1)[1].strip() == enc
