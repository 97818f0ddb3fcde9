# SPDX-License-Identifier: GPL-3.0-or-later
"""``lgvsc eval`` rejects bad input with a clear message and writes no report."""

from __future__ import annotations

import pytest

from lgvsc.cli import main
from lgvsc.samples import write_lavfi


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_lavfi(tmp_path_factory.mktemp("v") / "v.mp4", "testsrc2", 8, 64, 48, 24)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no videos given"),
        (["{missing}"], "no such file or folder"),
        (["{empty_dir}"], "folder contains no video files"),
        (["{video}", "--schemes", "lgvsc", "mpeg2"], "unknown scheme(s) mpeg2"),
        (["{video}", "--snr"], "SNR list is empty"),
        (["{video}", "--transport", "phy", "--channel", "tdl-x"], "not offered by the phy transport"),
        (["{video}", "--transport", "phy", "--phy", "fm"], "unknown PHY 'fm'"),
        (["{video}", "--lpips-weights", "{missing}"], "--lpips-weights"),
        (["{video}", "--dists-weights", "{empty_dir}"], "no weight files"),
        (["{video}", "--channel", "cdl-x"], "unknown channel"),
        (["{video}", "--seeds", "0"], "--seeds must be >= 1"),
        (["{video}", "--loss", "0", "1.5"], "--loss values must lie in [0, 1)"),
        (["{video}", "--loss", "0.3", "--burst-loss", "0.5"], "--burst-loss (mean burst length in PDUs) must be"),
        (["{video}", "--loss", "0.9", "--burst-loss", "1"], "P(good->bad)"),
        (["{video}", "--transport", "phy", "--loss", "0.1"], "run over the linksim transport"),
    ],
)
def test_bad_input_fails_clearly(tmp_path, video, capsys, args, message):
    (tmp_path / "empty").mkdir()
    subst = {"missing": str(tmp_path / "nope.mp4"), "empty_dir": str(tmp_path / "empty"), "video": str(video)}
    out = tmp_path / "out"
    rc = main(["eval", *[a.format(**subst) for a in args], "-o", str(out), "--no-progress"])
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (out / "report.md").exists()


def test_cli_writes_report(tmp_path, video, capsys):
    out = tmp_path / "out"
    rc = main(["eval", str(video.parent), "--snr", "10", "--schemes", "h264", "lgvsc", "--width", "64",
               "--height", "48", "-o", str(out), "--no-progress"])
    assert rc == 0
    assert "2 cells (2 computed, 0 cached)" in capsys.readouterr().out
    assert (out / "report.md").is_file() and (out / "results.csv").read_text().count("\n") == 3
