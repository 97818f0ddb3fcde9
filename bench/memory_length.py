# SPDX-License-Identifier: GPL-3.0-or-later
"""Peak RSS per process against video length: a short clip (reference, same run) vs a long one.

For each length a clip is generated with FFmpeg lavfi (``mandelbrot``: content that keeps changing,
so SKEM keeps making segments) at 576x320 @ 24 fps, then run through

- ``lgvsc encode`` and ``lgvsc decode`` (peak RSS from ``/usr/bin/time -f %M``),
- the encoder worker alone (``lgvsc worker encode``, one job, ``VmHWM`` once it reports
  ``job_encoded``: the stream is made, only sending is left), and
- ``lgvsc loopback`` (classical profile, OFDM, AWGN 30 dB): the orchestrator, the encoder worker, the
  decoder worker and the radio flowgraph, each sampled from ``/proc/PID/status`` (``VmHWM``, the
  kernel's own peak) every 0.2 s while the run lasts.

Prints a table of peak RSS (MB) per process and length, the growth long/short and the targets of
issue 17: growth <= 20 % and every process < 600 MB. Model weights: none (classical profile).

Run: ``.venv/bin/python bench/memory_length.py [--short 20] [--long 600] [--skip-loopback]``
(the 10-minute default takes a long while on 2 cores; ``--long 120`` is a quicker look), or
``--lengths 20,60,180`` for more than two lengths (growth: the last against the first), with
``--skip-decode`` for the encoder side only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

GROWTH_TARGET = 0.20
RSS_TARGET_MB = 600.0
LGVSC = [sys.executable, "-c", "import sys; from lgvsc.cli import main; sys.exit(main())"]


def make_clip(path: Path, seconds: float) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "mandelbrot=size=576x320:rate=24,format=yuv420p", "-t", str(seconds),
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", str(path)], check=True)
    return path


def timed_rss(cmd: list[str]) -> float:
    """Peak RSS (MB) of one command, from GNU time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name, *cmd], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[3:6])} failed:\n{r.stderr[-2000:]}")
        return int(Path(out.name).read_text().split()[-1]) / 1024


def encoder_worker_rss(clip: Path) -> float:
    """Peak RSS (MB) of a standalone encoder worker encoding ``clip`` (VmHWM at ``job_encoded``)."""
    from lgvsc.workers.client import FREE, StatusSubscriber, WorkerProcess, request

    w = WorkerProcess.spawn(["encode", "--pdu-out", FREE])
    sub = StatusSubscriber(w.endpoints["status"])
    try:
        if sub.wait_for(lambda ev: True, timeout=60) is None:
            raise SystemExit("encoder worker: no status event")
        reply = request(w.endpoints["control"], {"op": "job", "video": str(clip)})
        if not reply.get("ok"):
            raise SystemExit(f"encoder worker refused the job: {reply}")
        ev = sub.wait_for(lambda ev: ev.get("event") in ("job_encoded", "job_failed"), timeout=7200)
        if ev is None or ev["event"] != "job_encoded":
            raise SystemExit(f"encoder worker: {ev}")
        for line in Path(f"/proc/{w.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise SystemExit("encoder worker: no VmHWM")
    finally:
        sub.close()
        w.stop()


def _role(cmdline: str) -> str | None:
    if "link_runner" in cmdline:
        return "flowgraph"
    if "worker\0encode" in cmdline:
        return "encoder worker"
    if "worker\0decode" in cmdline:
        return "decoder worker"
    if "loopback" in cmdline:
        return "orchestrator"
    return None


def loopback_rss(clip: Path, out: Path) -> dict[str, float]:
    """Peak RSS (MB) of each process of one ``lgvsc loopback`` run (VmHWM, sampled)."""
    proc = subprocess.Popen([*LGVSC, "loopback", str(clip), "--snr", "30", "--no-progress", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peaks: dict[str, float] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    if entry.name != str(proc.pid):
                        stat = (entry / "stat").read_text()
                        ppid = int(stat.rsplit(")", 1)[1].split()[1])
                        if ppid != proc.pid:
                            continue
                    role = _role((entry / "cmdline").read_bytes().decode(errors="replace"))
                    if role is None:
                        continue
                    for line in (entry / "status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            peaks[role] = max(peaks.get(role, 0.0), int(line.split()[1]) / 1024)
                except (OSError, ValueError, IndexError):
                    continue
            time.sleep(0.2)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = proc.communicate()
    done.set()
    t.join()
    if proc.returncode != 0:
        raise SystemExit(f"loopback failed:\n{err[-2000:]}")
    report = json.loads((out / "report.json").read_text())
    if not report["video"]["full_length"]:
        raise SystemExit("loopback: the reconstruction is not full length")
    return peaks


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--short", type=float, default=20.0, help="reference clip length, s (default 20)")
    ap.add_argument("--long", type=float, default=600.0, help="long clip length, s (default 600)")
    ap.add_argument("--lengths", help="comma-separated clip lengths, s (instead of --short/--long)")
    ap.add_argument("--skip-loopback", action="store_true", help="only lgvsc encode and decode")
    ap.add_argument("--skip-decode", action="store_true", help="no lgvsc decode")
    ap.add_argument("--skip-worker", action="store_true", help="no standalone encoder worker")
    args = ap.parse_args()
    lengths = [float(x) for x in args.lengths.split(",")] if args.lengths else [args.short, args.long]
    rows: dict[str, dict[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="lgvsc-mem-") as tmp:
        d = Path(tmp)
        for secs in lengths:
            clip = make_clip(d / f"clip{secs:g}.mp4", secs)
            t0 = time.monotonic()
            stream = d / f"s{secs:g}.lgvs"
            rows.setdefault("lgvsc encode", {})[secs] = timed_rss(
                [*LGVSC, "encode", str(clip), "-o", str(stream), "--no-progress"])
            if not args.skip_worker:
                rows.setdefault("encoder worker (alone)", {})[secs] = encoder_worker_rss(clip)
            if not args.skip_decode:
                rows.setdefault("lgvsc decode", {})[secs] = timed_rss(
                    [*LGVSC, "decode", str(stream), "-o", str(d / f"r{secs:g}.mp4"), "--no-progress"])
            if not args.skip_loopback:
                for role, mb in loopback_rss(clip, d / f"loop{secs:g}").items():
                    rows.setdefault(f"loopback: {role}", {})[secs] = mb
            print(f"{secs:g} s clip done in {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    print("| process | " + " | ".join(f"{s:g} s (MB)" for s in lengths)
          + f" | growth | target <= {GROWTH_TARGET:.0%} | < {RSS_TARGET_MB:g} MB |")
    print("|---" * (len(lengths) + 4) + "|")
    ok = True
    for name, by in rows.items():
        vals = [by.get(s, float("nan")) for s in lengths]
        growth = vals[-1] / vals[0] - 1
        g_ok, r_ok = growth <= GROWTH_TARGET, max(vals) < RSS_TARGET_MB
        ok &= g_ok and r_ok
        print(f"| {name} | " + " | ".join(f"{v:.0f}" for v in vals)
              + f" | {growth:+.1%} | {'ok' if g_ok else 'MISSED'} | {'ok' if r_ok else 'MISSED'} |")
    print("all targets met" if ok else "some targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
