# SPDX-License-Identifier: GPL-3.0-or-later
"""The docstring examples of the HF modules run (with tiny models, offline)."""

import doctest
import importlib

import pytest

MODULES = [
    "lgvsc.backends.hf",
    "lgvsc.backends.hf_captioner",
    "lgvsc.backends.hf_generator",
    "lgvsc.backends.hf_judge",
    "lgvsc.metrics.clip_score",
    "lgvsc.testing.tiny_models",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
