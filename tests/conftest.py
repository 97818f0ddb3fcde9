# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures of the cross-interpreter tests (venv pytest driving GNU Radio's /usr/bin/python3).

``gr_env``: environment in which ``/usr/bin/python3`` imports ``gnuradio.lgvsc`` from THIS tree
(gr-lgvsc/python/lgvsc, through a temporary ``gnuradio/lgvsc`` link that ``gnuradio``'s
``extend_path`` finds before an installed copy), so tests never run a stale install. ``LGVSC_GR_LGVSC_DIR`` points the link at another copy of
that directory (e.g. an exported commit while the working tree is mid-edit).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
GR_PYTHON = os.environ.get("GR_PYTHON", "/usr/bin/python3")

# Hypothesis' 200 ms per-example deadline measures wall time; on a loaded 2-core machine it fails
# on load, not on behaviour (speed targets live in bench/).
settings.register_profile("lgvsc", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("lgvsc")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running test (still run in CI)")


@pytest.fixture(scope="session")
def gr_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if shutil.which(GR_PYTHON) is None:
        pytest.skip("GNU Radio interpreter not found")
    overlay = tmp_path_factory.mktemp("gr_overlay")
    (overlay / "gnuradio").mkdir()
    target = os.environ.get("LGVSC_GR_LGVSC_DIR") or ROOT / "gr-lgvsc" / "python" / "lgvsc"
    (overlay / "gnuradio" / "lgvsc").symlink_to(target)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(overlay), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("VIRTUAL_ENV", None)
    return env


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 36-frame synthetic clip with one hard cut (lgvsc.samples.drawn_scene), as an mp4."""
    from lgvsc.samples import drawn_scene
    from lgvsc.video import write_video

    path = tmp_path_factory.mktemp("clip") / "short.mp4"
    d = drawn_scene(num_frames=36, width=192, height=108, fps=24, cuts=(18,))
    write_video(path, d.frames, 24)
    return path
