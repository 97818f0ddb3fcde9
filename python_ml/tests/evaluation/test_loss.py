# SPDX-License-Identifier: GPL-3.0-or-later
"""PDU loss models: i.i.d. and Gilbert–Elliott mean loss and burst length over 10k PDUs."""

from __future__ import annotations

import numpy as np
import pytest

from lgvsc.evaluation.loss import GilbertElliott, burst_lengths, loss_mask

N = 10_000


@pytest.mark.parametrize(("loss", "burst", "seed"), [(0.3, 4.0, 1), (0.1, 3.0, 2), (0.2, 8.0, 3)])
def test_gilbert_elliott_matches_its_mean_loss_and_burst_within_10_percent(loss, burst, seed):
    m = loss_mask(N, loss, burst, seed)
    assert m.mean() == pytest.approx(loss, rel=0.10)
    assert burst_lengths(m).mean() == pytest.approx(burst, rel=0.10)


def test_iid_loss_rate_and_short_bursts():
    m = loss_mask(N, 0.3, None, 7)
    assert m.mean() == pytest.approx(0.3, rel=0.10)
    assert burst_lengths(m).mean() == pytest.approx(1 / (1 - 0.3), rel=0.10)  # geometric runs
    assert not loss_mask(N, 0.0, None, 7).any() and not loss_mask(N, 0.0, 5.0, 7).any()


def test_burst_lengths_and_bad_parameters():
    assert burst_lengths(np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], bool)).tolist() == [2, 1, 3]
    with pytest.raises(ValueError, match="burst"):
        GilbertElliott(0.1, 0.5)
    with pytest.raises(ValueError, match="loss rate"):
        GilbertElliott(1.0, 2.0)
    with pytest.raises(ValueError, match="P\\(good->bad\\)"):
        GilbertElliott(0.9, 1.0)
