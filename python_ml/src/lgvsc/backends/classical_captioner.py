# SPDX-License-Identifier: GPL-3.0-or-later
"""Classical captioners: a structured description from measured features, and user-supplied captions.

:class:`FeatureCaptioner` names what it can measure: the dominant colours
(k-means in Lab on a downscaled frame, each centre named after the nearest
of a small palette of basic colour names), the brightness, the amount and
direction of motion (DIS flow between the first and last frame given, at the
motion analysis width) and whether the scene changes (colour histogram
distance between the first and last frame). Example output::

    "bright scene; mostly gray, green and blue; little movement, camera moving left"

:class:`FileCaptioner` reads captions a person wrote (see :func:`load_captions`).

**Compact form.** The classical generator never reads captions, so the classical
profile sends :class:`FeatureCaptioner`'s caption in a compact form of a few bytes
(:func:`compact_caption`; :func:`expand_caption` gives the text back, e.g. in
``lgvsc inspect``). It starts with ``~``, then one letter for the light
(``k`` dark, ``d`` dim, ``w`` well-lit, ``b`` bright), one capital per colour
(``A``.. in the order of :data:`COLOUR_NAMES`), the motion (``0`` static, ``1``
little, ``2`` large, ``3`` very large movement), the camera direction (``<``
left, ``>`` right, ``^`` up, ``v`` down) and ``!`` when the scene changes::

    "dim scene; mostly green and dark green; little movement, camera moving left; the scene changes"
    -> "~dGM1<!"
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lgvsc.errors import UserError

from .base import Captioner
from .classical_motion import REFERENCE_WIDTH, dis_flow, to_gray_small

__all__ = ["FeatureCaptioner", "FileCaptioner", "TimedCaption", "load_captions", "COLOUR_NAMES", "compact_caption",
           "expand_caption"]

#: Basic colour names and their sRGB prototypes (Berlin & Kay's basic terms).
COLOUR_NAMES: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 20), "gray": (128, 128, 128), "white": (240, 240, 240), "red": (200, 30, 30),
    "orange": (240, 140, 30), "yellow": (240, 220, 40), "green": (50, 150, 50), "blue": (40, 80, 200),
    "purple": (120, 50, 150), "pink": (240, 150, 180), "brown": (120, 75, 40), "cyan": (40, 200, 210),
    "dark green": (20, 70, 30), "light blue": (150, 190, 230), "beige": (215, 195, 160),
}
MAX_CAPTION_CHARS = 1000


def _lab(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb.reshape(-1, 1, 3).astype(np.uint8), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)


_PALETTE_LAB = _lab(np.array(list(COLOUR_NAMES.values()), np.uint8))
_PALETTE_NAMES = list(COLOUR_NAMES)


_LIGHT = {"dark": "k", "dim": "d", "well-lit": "w", "bright": "b"}
_COLOUR_CODE = {name: chr(ord("A") + i) for i, name in enumerate(COLOUR_NAMES)}
_SPEED = {"static": "0", "little movement": "1", "large movement": "2", "very large movement": "3"}
_DIRECTION = {"left": "<", "right": ">", "up": "^", "down": "v"}
_CHANGES = "the scene changes"


def _inverse(d: dict[str, str]) -> dict[str, str]:
    return {v: k for k, v in d.items()}


def compact_caption(text: str) -> str:
    """The compact form of a :class:`FeatureCaptioner` caption (see the module docstring); any other text is
    returned unchanged."""
    parts = text.split("; ")
    try:
        light = _LIGHT[parts[0].removesuffix(" scene")]
        if not parts[0].endswith(" scene") or not parts[1].startswith("mostly "):
            return text
        names = parts[1].removeprefix("mostly ").replace(" and ", ", ").split(", ")
        colours = "".join(_COLOUR_CODE[n] for n in names)
        speed, _, camera = parts[2].partition(", camera moving ")
        motion = _SPEED[speed] + (_DIRECTION[camera] if camera else "")
        rest = parts[3:]
    except (IndexError, KeyError):
        return text
    if rest not in ([], [_CHANGES]):
        return text
    return "~" + light + colours + motion + ("!" if rest else "")


def expand_caption(code: str) -> str:
    """The text of a compact caption (:func:`compact_caption`); any other text is returned unchanged."""
    if not code.startswith("~") or len(code) < 4:
        return code
    light, speeds, dirs, colours = _inverse(_LIGHT), _inverse(_SPEED), _inverse(_DIRECTION), _inverse(_COLOUR_CODE)
    body = code[1:]
    if body[0] not in light:
        return code
    i = 1
    names = []
    while i < len(body) and body[i] in colours:
        names.append(colours[body[i]])
        i += 1
    if not names or i >= len(body) or body[i] not in speeds:
        return code
    motion = speeds[body[i]]
    i += 1
    if i < len(body) and body[i] in dirs:
        motion += f", camera moving {dirs[body[i]]}"
        i += 1
    changes = i < len(body) and body[i] == "!"
    if i + changes != len(body):
        return code
    colour_text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return "; ".join([f"{light[body[0]]} scene", f"mostly {colour_text}", motion] + ([_CHANGES] if changes else []))


class FeatureCaptioner(Captioner):
    """A caption from measured features (no weights). See the module docstring.

    >>> import numpy as np
    >>> f = np.zeros((64, 96, 3), np.uint8); f[..., 1] = 160
    >>> FeatureCaptioner().caption([f, f])
    'dim scene; mostly green; static'
    """

    name = "features"

    def __init__(self, num_colours: int = 3, analysis_width: int = 96) -> None:
        if not 1 <= num_colours <= 8:
            raise ValueError(f"num_colours must lie in [1, 8], got {num_colours}")
        self.num_colours = int(num_colours)
        self.analysis_width = int(analysis_width)

    def _colours(self, frame: np.ndarray) -> list[str]:
        import cv2

        h, w = frame.shape[:2]
        small = cv2.resize(frame, (self.analysis_width, max(4, round(h * self.analysis_width / w))),
                           interpolation=cv2.INTER_AREA)
        lab = _lab(small)
        k = min(self.num_colours + 1, len(lab))
        crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
        cv2.setRNGSeed(0)
        _, labels, centres = cv2.kmeans(lab, k, None, crit, 2, cv2.KMEANS_PP_CENTERS)
        counts = np.bincount(labels.ravel(), minlength=k)
        names: dict[str, int] = {}
        for c, n in zip(centres, counts, strict=True):
            name = _PALETTE_NAMES[int(np.argmin(np.sum((_PALETTE_LAB - c) ** 2, axis=1)))]
            names[name] = names.get(name, 0) + int(n)
        ranked = sorted(names.items(), key=lambda kv: -kv[1])
        total = sum(names.values())
        return [n for n, c in ranked if c >= 0.1 * total][: self.num_colours] or [ranked[0][0]]

    def caption(self, frames: Sequence[np.ndarray]) -> str:
        import cv2

        if not len(frames):
            raise ValueError("no frames to caption")
        first, last = frames[0], frames[-1]
        mid = frames[len(frames) // 2]
        luma = float(np.mean(cv2.cvtColor(np.ascontiguousarray(mid), cv2.COLOR_RGB2GRAY)))
        light = "dark" if luma < 60 else "dim" if luma < 110 else "bright" if luma > 170 else "well-lit"
        cols = self._colours(mid)
        colour_text = cols[0] if len(cols) == 1 else ", ".join(cols[:-1]) + " and " + cols[-1]
        parts = [f"{light} scene", f"mostly {colour_text}"]
        if len(frames) >= 2 and not np.array_equal(first, last):
            ga, gb = to_gray_small(first), to_gray_small(last)
            scale = REFERENCE_WIDTH / ga.shape[1]
            # global shift by phase correlation (large pans), local motion by DIS flow
            (sx, sy), response = cv2.phaseCorrelate(ga.astype(np.float32), gb.astype(np.float32),
                                                    cv2.createHanningWindow(ga.shape[::-1], cv2.CV_32F))
            flow = dis_flow(ga, gb)
            mag = float(np.mean(np.hypot(flow[..., 0], flow[..., 1]))) * scale
            mean = flow.reshape(-1, 2).mean(axis=0) * scale
            if response > 0.1 and np.hypot(sx, sy) * scale > max(mag, 8):
                mean = np.array([sx, sy]) * scale
                mag = float(np.hypot(sx, sy)) * scale
            # total displacement first -> last, in px of a 576-px-wide frame (the captioner does not know
            # the frame spacing; the per-frame speed travels as the segment's motion score)
            if mag < 8:
                parts.append("static")
            else:
                speed = "little movement" if mag < 48 else "large movement" if mag < 144 else "very large movement"
                if np.hypot(*mean) > 0.6 * mag:  # coherent motion: the camera moves
                    dx, dy = mean
                    # content moving left means the camera pans right
                    direction = ("right" if dx < 0 else "left") if abs(dx) >= abs(dy) else ("down" if dy < 0 else "up")
                    parts.append(f"{speed}, camera moving {direction}")
                else:
                    parts.append(speed)
            hist = [cv2.calcHist([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2HSV)], [0, 1], None,
                                 [12, 4], [0, 180, 0, 256]) for f in (first, last)]
            for hh in hist:
                cv2.normalize(hh, hh, 1.0, 0.0, cv2.NORM_L1)
            if cv2.compareHist(hist[0], hist[1], cv2.HISTCMP_BHATTACHARYYA) > 0.5:
                parts.append("the scene changes")
        else:
            parts.append("static")
        return "; ".join(parts)


@dataclass(frozen=True)
class TimedCaption:
    """A caption for the time range ``[start_s, end_s)`` of the video (``end_s`` may be ``inf``)."""

    start_s: float
    end_s: float
    text: str


def load_captions(path: str | os.PathLike) -> list[str] | list[TimedCaption]:
    """Read user captions.

    Accepted forms:

    * ``.json`` list of strings: one caption per segment, in order;
    * ``.json`` list of objects ``{"start": s, "end": s, "text": "..."}`` (seconds; ``end`` optional):
      each segment gets the caption that overlaps it most;
    * any other file: plain text, one caption per line (blank lines skipped), one per segment.

    :raises UserError: missing file, bad JSON, wrong shapes, no captions.
    """
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{p}: cannot read captions ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise UserError(f"{p}: captions are not UTF-8 text") from exc
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UserError(f"{p}: invalid JSON ({exc})") from exc
        if not isinstance(data, list) or not data:
            raise UserError(f"{p}: expected a non-empty JSON list of captions")
        if all(isinstance(x, str) for x in data):
            return [x[:MAX_CAPTION_CHARS] for x in data]
        out = []
        for i, x in enumerate(data):
            if not isinstance(x, dict) or not isinstance(x.get("text"), str) or "start" not in x:
                raise UserError(f"{p}: entry {i} must be a string or an object with 'start' and 'text'")
            try:
                start = float(x["start"])
                end = float(x.get("end", float("inf")))
            except (TypeError, ValueError) as exc:
                raise UserError(f"{p}: entry {i} has a non-numeric start/end") from exc
            if not end > start >= 0:
                raise UserError(f"{p}: entry {i} needs 0 <= start < end, got {start}..{end}")
            out.append(TimedCaption(start, end, x["text"][:MAX_CAPTION_CHARS]))
        return sorted(out, key=lambda c: c.start_s)
    lines = [ln.strip()[:MAX_CAPTION_CHARS] for ln in raw.splitlines() if ln.strip()]
    if not lines:
        raise UserError(f"{p}: no captions in the file")
    return lines


class FileCaptioner(Captioner):
    """Captions supplied by the user (see :func:`load_captions`).

    Per-segment lists are used in order; when the list is shorter than the
    number of segments the last caption is repeated. Timed captions are matched
    by the largest overlap with the segment's time range.
    """

    name = "file"

    def __init__(self, captions: str | os.PathLike | Sequence[str] | Sequence[TimedCaption]) -> None:
        if isinstance(captions, str | os.PathLike):
            captions = load_captions(captions)
        if not captions:
            raise ValueError("no captions given")
        self.captions = list(captions)
        self._next = 0

    def caption(self, frames: Sequence[np.ndarray]) -> str:
        """The next caption in order (for callers that do not know the segment index)."""
        i = self._next
        self._next += 1
        return self.caption_segment(frames, index=i, start_s=0.0, end_s=0.0)

    def caption_segment(self, frames: Sequence[np.ndarray], index: int, start_s: float, end_s: float) -> str:
        first = self.captions[0]
        if isinstance(first, TimedCaption):
            best, best_overlap = "", -1.0
            for c in self.captions:
                overlap = min(end_s, c.end_s) - max(start_s, c.start_s)
                if overlap > best_overlap:
                    best, best_overlap = c.text, overlap
            return best
        return str(self.captions[min(index, len(self.captions) - 1)])
