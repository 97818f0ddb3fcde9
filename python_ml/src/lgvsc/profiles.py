# SPDX-License-Identifier: GPL-3.0-or-later
"""Backend profiles: which judge, captioner, keyframe codec, motion estimator and generator to use.

``classical`` (the embedded default) needs no weights. ``hf`` takes the judge,
captioner and generator from :func:`lgvsc.backends.hf.build_hf_backends`
(imported lazily, models load on first use) and the keyframe codec and the
motion estimator from the classical profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lgvsc.backends.base import Captioner, KeyframeCodec, MotionEstimator, SegmentGenerator, SemanticJudge
from lgvsc.errors import UserError

__all__ = ["PROFILES", "Backends", "build_backends"]

PROFILES = ("classical", "hf")


class _Lazy:
    """Resolve ``mapping[key]`` on first attribute access (HF models load only when used)."""

    def __init__(self, mapping: Any, key: str) -> None:
        self._mapping, self._key, self._obj = mapping, key, None

    def _resolve(self) -> Any:
        if self._obj is None:
            self._obj = self._mapping[self._key]
        return self._obj

    def __getattr__(self, name: str) -> Any:
        return getattr(self._resolve(), name)


@dataclass
class Backends:
    """The five backends of the semantic codec."""

    judge: SemanticJudge
    captioner: Captioner
    keyframe_codec: KeyframeCodec
    motion: MotionEstimator
    generator: SegmentGenerator
    profile: str = "classical"


def build_backends(profile: str = "classical", **options: Any) -> Backends:
    """Build the backends of a profile.

    Classical options: ``captions`` (path or list: user captions instead of
    measured ones), ``keyframe_codec`` (``av1``, the default, ``webp`` or ``jpeg``), ``keyframe_min_quality``,
    ``analysis_width`` (judge and motion, default 144). The ``hf`` profile passes
    every option to :func:`lgvsc.backends.hf.build_hf_backends`.

    >>> b = build_backends()
    >>> b.judge.name, b.keyframe_codec.codec_id, b.generator.name
    ('classical', 'av1', 'flow-interpolation')
    """
    from lgvsc.backends.classical_captioner import FeatureCaptioner, FileCaptioner
    from lgvsc.backends.classical_generator import FlowInterpolationGenerator
    from lgvsc.backends.classical_judge import ClassicalJudge
    from lgvsc.backends.classical_keyframe import default_keyframe_codec, keyframe_codec_for
    from lgvsc.backends.classical_motion import ANALYSIS_WIDTH, DisMotionEstimator

    if profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    analysis_width = int(options.get("analysis_width") or ANALYSIS_WIDTH)
    try:
        codec = keyframe_codec_for(options.get("keyframe_codec") or default_keyframe_codec())
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    if options.get("keyframe_min_quality") is not None:
        codec.min_quality = int(options["keyframe_min_quality"])
    motion = DisMotionEstimator(analysis_width=analysis_width)
    captions = options.get("captions")
    if profile == "classical":
        return Backends(
            judge=ClassicalJudge(analysis_width=analysis_width),
            captioner=FileCaptioner(captions) if captions else FeatureCaptioner(),
            keyframe_codec=codec,
            motion=motion,
            generator=FlowInterpolationGenerator(),
            profile="classical",
        )
    from lgvsc.backends.hf import build_hf_backends

    hf = build_hf_backends(options)
    return Backends(
        judge=_Lazy(hf, "judge"),  # type: ignore[arg-type]
        captioner=FileCaptioner(captions) if captions else _Lazy(hf, "captioner"),  # type: ignore[arg-type]
        keyframe_codec=codec,
        motion=motion,
        generator=_Lazy(hf, "generator"),  # type: ignore[arg-type]
        profile="hf",
    )
