# SPDX-License-Identifier: GPL-3.0-or-later
"""Flow-interpolation generator: exact length and ends, motion follows the flow, cuts are held."""

from __future__ import annotations

import numpy as np
import pytest

from lgvsc.backends.base import SegmentRequest
from lgvsc.backends.classical_generator import FlowInterpolationGenerator, interpolate, interpolate_at
from lgvsc.samples import bikes_path, carphone_path, pan_clip
from lgvsc.video import read_video


@pytest.fixture(scope="module")
def image():
    return read_video(carphone_path(), max_frames=1).frames[0]


def psnr(a, b):
    return 10 * np.log10(255**2 / np.mean((a.astype(float) - b) ** 2))


@pytest.mark.parametrize("n", [2, 3, 17])
def test_length_and_exact_ends(image, n):
    last = np.roll(image, 8, axis=1)
    out = FlowInterpolationGenerator().generate(SegmentRequest(image, last, num_frames=n))
    assert out.shape == (n, *image.shape) and out.dtype == np.uint8
    assert np.array_equal(out[0], image) and np.array_equal(out[-1], last)


def test_pan_interpolation_beats_cross_fade(image):
    clip = pan_clip(image, num_frames=25, speed=2.0).frames
    out = interpolate(clip[0], clip[-1], 25)
    mid = 12
    fade = (clip[0].astype(float) + clip[-1]) / 2
    assert psnr(clip[mid], out[mid]) > psnr(clip[mid], fade) + 3
    assert np.array_equal(interpolate_at(clip[0], clip[-1], mid / 24), out[mid])


def test_cut_between_keyframes_is_held_not_faded():
    frames = read_video(bikes_path(), max_frames=200).frames
    a, b = frames[10], frames[150]
    out = FlowInterpolationGenerator().generate(SegmentRequest(a, b, num_frames=20, fps=24))
    assert np.array_equal(out[10], a) and np.array_equal(out[-2], b)
    assert sum(np.array_equal(f, a) for f in out) == 18  # switch 2 frames (half a candidate step) before the end


@pytest.mark.parametrize("piece", [1, 4, 16, 100])
def test_pieces_are_generate_in_order(image, piece):
    """generate_pieces (what the decoder streams) gives generate's frames exactly: flow, cut, refinements."""
    gen = FlowInterpolationGenerator()
    last = np.roll(image, 8, axis=1)
    other = np.ascontiguousarray(image[::-1])  # a different scene: held and cut
    reqs = [SegmentRequest(image, last, num_frames=37), SegmentRequest(image, image.copy(), num_frames=9),
            SegmentRequest(image, other, num_frames=30), SegmentRequest(image, last, num_frames=2),
            SegmentRequest(image, last, num_frames=41,
                           refinements=[(5, np.roll(image, 1, axis=1)), (6, np.roll(image, 2, axis=1)),
                                        (30, np.roll(image, 6, axis=1))])]
    for req in reqs:
        pieces = list(gen.generate_pieces(req, piece))
        assert all(0 < len(p) <= piece for p in pieces)
        assert np.array_equal(np.concatenate(pieces), gen.generate(req))
