# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared pytest set-up for the ML tests.

Hypothesis' per-example deadline (200 ms) measures wall time, and this suite runs on a loaded
2-core machine: a deadline there fails on load, not on behaviour. Tests that care about speed
live in bench/.
"""

from hypothesis import HealthCheck, settings

settings.register_profile("lgvsc", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("lgvsc")
