# SPDX-License-Identifier: GPL-3.0-or-later
"""Fuzz every untrusted-input parser (fuzz/targets.py) and report, per target: inputs run, named
refusals, uncaught exceptions by type (with the first input of each, hex), the slowest input (CPU
time) and the peak RSS. Exit status 1 on any uncaught exception or a peak RSS above ``--rss-cap-mb``.

Engines: ``atheris`` (coverage-guided libFuzzer; ``make fuzz`` installs it when it can) or
``hypothesis`` (always installed; seeded, so a CI run is reproducible); ``auto`` takes atheris
when it imports. Each target runs in its own process (clean RSS, no state shared).

    .venv/bin/python fuzz/run.py                                 # all targets, 1,000,000 inputs each
    .venv/bin/python fuzz/run.py --engine hypothesis --runs 3000 --seed 13   # the CI run
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "gr-lgvsc" / "python" / "lgvsc"))  # pmt_frame, for instrumented import

__all__ = ["main"]

_BOUNDARY = [b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00", b"\x00\x00\x01\x00"]


def mutate(seed: bytes, ops) -> bytes:
    """Apply (position, byte, op) edits: overwrite, truncate, insert, 4-byte boundary value, duplicate."""
    b = bytearray(seed)
    for pos, val, op in ops:
        p = pos % (len(b) + 1)
        if op == 0 and b:
            b[p % len(b)] = val
        elif op == 1:
            del b[p:]
        elif op == 2:
            b.insert(p, val)
        elif op == 3:
            b[p:p + 4] = _BOUNDARY[val % len(_BOUNDARY)]
        elif op == 4:
            b[p:p] = b[p:p + 1 + val % 64]
    return bytes(b)


class Stats:
    def __init__(self, target: str, expected: tuple) -> None:
        self.target, self.expected = target, expected
        self.runs = self.refused = 0
        self.uncaught: collections.Counter = collections.Counter()
        self.first: dict[str, str] = {}
        self.slowest = (0.0, b"")

    def run(self, call, data: bytes) -> None:
        self.runs += 1
        t = time.process_time()  # CPU time: on a loaded machine wall time measures the scheduler
        try:
            call(data)
        except self.expected:
            self.refused += 1
        except Exception as exc:  # noqa: BLE001 - what the fuzzer looks for
            name = f"{type(exc).__module__}.{type(exc).__qualname__}"
            self.uncaught[name] += 1
            self.first.setdefault(name, f"{exc!r:.200} <- {data[:96].hex()}")
        except RecursionError as exc:  # pragma: no cover - RecursionError is an Exception; kept explicit
            self.uncaught[type(exc).__name__] += 1
        dt = time.process_time() - t
        if dt > self.slowest[0]:
            self.slowest = (dt, data)

    def report(self, engine: str) -> dict:
        return {"target": self.target, "engine": engine, "inputs": self.runs, "refused": self.refused,
                "uncaught": dict(self.uncaught), "uncaught_examples": self.first,
                "slowest_s": round(self.slowest[0], 6), "slowest_len": len(self.slowest[1]),
                "slowest_hex": self.slowest[1][:64].hex(),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _hypothesis(target: str, runs: int, seed: int) -> dict:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st
    from targets import load

    seeds, call, expected = load(target)
    stats = Stats(target, expected)
    edits = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255), st.integers(0, 4)), max_size=8)
    data = st.one_of(st.binary(max_size=4096), st.builds(mutate, st.sampled_from(seeds), edits))
    done, batch = 0, 0
    while done < runs:  # batches: hypothesis's own bookkeeping must not grow into what we measure
        n = min(20_000, runs - done)

        @hseed(seed + batch)
        @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(data)
        def one(b):
            stats.run(call, b)

        before = stats.runs
        one()
        done += max(1, stats.runs - before)
        batch += 1
    return stats.report("hypothesis")


def _atheris(target: str, runs: int, seed: int) -> dict:
    import tempfile

    import atheris

    with atheris.instrument_imports(include=["lgvsc", "pmt_frame", "msgpack"]):
        from targets import load

        seeds, call, expected = load(target)
    stats = Stats(target, expected)
    corpus = tempfile.mkdtemp(prefix=f"fuzz-{target}-")
    for i, s in enumerate(seeds):
        Path(corpus, f"seed{i}").write_bytes(s)

    def one(b: bytes) -> None:
        stats.run(call, b)
        if stats.runs >= runs:  # libFuzzer's exit skips Python's atexit: report and leave here
            print(json.dumps(stats.report("atheris")), flush=True)
            shutil.rmtree(corpus, ignore_errors=True)  # our temporary seed corpus (libFuzzer adds to it)
            os._exit(0)

    atheris.Setup([sys.argv[0], f"-seed={seed}", f"-runs={runs + 10}", "-max_len=8192", "-rss_limit_mb=0",
                   "-print_final_stats=0", corpus], one)
    atheris.Fuzz()
    return stats.report("atheris")  # pragma: no cover - Fuzz() does not return


def _engine(name: str) -> str:
    if name != "auto":
        return name
    try:
        import atheris  # noqa: F401
        return "atheris"
    except ImportError:
        return "hypothesis"


def main() -> int:
    from targets import TARGETS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--runs", type=int, default=1_000_000, help="inputs per target")
    ap.add_argument("--engine", choices=["auto", "atheris", "hypothesis"], default="auto")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--rss-cap-mb", type=float, default=1024.0, help="fail when a target's peak RSS exceeds this")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    engine = _engine(args.engine)
    if args.one:
        rep = (_atheris if engine == "atheris" else _hypothesis)(args.one, args.runs, args.seed)
        print(json.dumps(rep), flush=True)
        return 0
    reports, failed = [], False
    for t in args.targets.split(","):
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, __file__, "--one", t, "--runs", str(args.runs), "--engine", engine,
                            "--seed", str(args.seed)], capture_output=True, text=True)
        line = next((x for x in reversed(p.stdout.splitlines()) if x.startswith("{")), None)
        if p.returncode != 0 or line is None:  # a crash of the process itself (signal, abort): the worst case
            rep = {"target": t, "engine": engine, "crashed": p.returncode, "stderr": p.stderr[-1500:]}
            failed = True
        else:
            rep = json.loads(line)
            rep["wall_s"] = round(time.monotonic() - t0, 1)
            if rep["uncaught"] or rep["peak_rss_mb"] > args.rss_cap_mb:
                failed = True
        reports.append(rep)
        print(json.dumps(rep), flush=True)
    print(json.dumps({"engine": engine, "runs_per_target": args.runs, "seed": args.seed,
                      "rss_cap_mb": args.rss_cap_mb, "failed": failed,
                      "uncaught_total": sum(sum(r.get("uncaught", {}).values()) for r in reports),
                      "crashed": [r["target"] for r in reports if "crashed" in r]}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
