# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/gpu_profile.py keeps working: its tiny CPU run measures every workload, and its full-size configs build."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
BENCH = Path(__file__).resolve().parents[2] / "bench" / "gpu_profile.py"


@pytest.fixture(scope="module")
def gpu_profile():
    spec = importlib.util.spec_from_file_location("gpu_profile", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_tiny_run_measures_psss_skem_and_dsa(gpu_profile, tmp_path):
    out = tmp_path / "gp.json"
    assert gpu_profile.main(["--tiny", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["tiny"] and r["device"] == "cpu"
    assert {p["model"] for p in r["psss"]} == {"llava-1.5-7b", "qwen2.5-vl-3b"}
    for p in r["psss"]:
        assert p["batched_s_per_candidate"] > 0 and p["sequential_s_per_candidate"] > 0 and p["naive_pair_s"] > 0
        assert p["skem"]["candidates"] == 11 and p["skem"]["realtime_factor"] > 0
        assert p["speculative_identical"]["identical"] is True
    assert {(d["model"], d["preset"]) for d in r["dsa"]} == {
        ("ltx-video-2b", "ltx-distilled"), ("ltx-video-2b", "ltx-dev"), ("wan2.1-flf2v-14b", "wan")}
    assert all(d["s_per_generated_s"] > 0 and d["frames"] == 9 for d in r["dsa"])
    # targets are for full size: a tiny run judges none of them, except the keyframe identity
    assert {v["target"] for v in r["verdicts"]} == {None, "True"}


@pytest.mark.slow
def test_full_size_configs_build_with_the_published_parameter_counts(gpu_profile, tmp_path):
    out = tmp_path / "params.json"
    assert gpu_profile.main(["--params-only", "--out", str(out)]) == 0
    p = json.loads(out.read_text())["params"]
    assert round(p["llava-1.5-7b"]["params"] / 1e9, 2) == 7.06
    assert round(p["qwen2.5-vl-3b"]["params"] / 1e9, 2) == 3.75
    assert round(p["ltx-video-2b"]["components"]["transformer"] / 1e9, 2) == 1.92
    assert round(p["wan2.1-flf2v-14b"]["components"]["transformer"] / 1e9, 1) == 16.4


def test_bad_options_are_clear_errors(gpu_profile, capsys):
    assert gpu_profile.main(["--vlm", "nosuch", "--tiny"]) == 2
    assert "unknown model(s) nosuch" in capsys.readouterr().err
    import torch

    if not torch.cuda.is_available():  # full size on a CPU is refused, with the way out
        assert gpu_profile.main([]) == 2
        assert "use --tiny" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        gpu_profile.main(["--size", "30x50"])
