# SPDX-License-Identifier: GPL-3.0-or-later
"""The paper's comparisons, reproducible: schemes, the link, the cell grid and the report (``lgvsc eval``).

>>> from lgvsc.evaluation import EvalConfig, SCHEMES
>>> SCHEMES
('lgvsc', 'skim', 'h264', 'h265', 'h264-matched', 'h265-matched', 'av1-matched', 'text-only')
"""

from lgvsc.evaluation.link import TRANSPORTS, Link
from lgvsc.evaluation.report import write_outputs
from lgvsc.evaluation.runner import DEFAULT_SNRS, EvalConfig, EvalRun, find_videos, run_evaluation
from lgvsc.evaluation.schemes import DEFAULT_GOPS, PAPER_GOPS, SCHEMES, make_scheme

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
