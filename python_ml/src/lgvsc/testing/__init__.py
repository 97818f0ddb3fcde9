# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for tests and weight-free trials: tiny random models (:mod:`.tiny_models`)."""

__all__: list[str] = []
