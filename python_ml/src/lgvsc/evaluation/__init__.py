# SPDX-License-Identifier: GPL-3.0-or-later
"""The paper's comparisons, reproducible: schemes, the link, the cell grid and the report (``lgvsc eval``).

>>> from lgvsc.evaluation import EvalConfig, SCHEMES
>>> SCHEMES
('lgvsc', 'skim', 'h264', 'h265', 'h264-matched', 'h265-matched', 'av1-matched', 'text-only')
"""

import importlib

# Imported on first use (PEP 562): the loopback's report needs only lgvsc.evaluation.phy, and importing the
# runner, schemes and report modules cost it seconds inside its "score and render" stage.
_EXPORTS = {
    "TRANSPORTS": "link", "Link": "link",
    "write_outputs": "report",
    "DEFAULT_SNRS": "runner", "EvalConfig": "runner", "EvalRun": "runner", "find_videos": "runner",
    "run_evaluation": "runner",
    "DEFAULT_GOPS": "schemes", "PAPER_GOPS": "schemes", "SCHEMES": "schemes", "make_scheme": "schemes",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))

__all__ = [
    "DEFAULT_GOPS",
    "DEFAULT_SNRS",
    "PAPER_GOPS",
    "SCHEMES",
    "TRANSPORTS",
    "EvalConfig",
    "EvalRun",
    "Link",
    "find_videos",
    "make_scheme",
    "run_evaluation",
    "write_outputs",
]
