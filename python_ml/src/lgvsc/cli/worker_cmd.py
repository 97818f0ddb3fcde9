# SPDX-License-Identifier: GPL-3.0-or-later
"""``lgvsc worker encode|decode|echo``: long-lived ZeroMQ workers for the radio side.

Each prints one JSON line ``{"event": "ready", "endpoints": {...}}`` on stdout once its
sockets are bound (ports given as ``*`` are resolved there), serves until SIGTERM/SIGINT or a
``shutdown`` control request, then prints ``{"event": "exit", ...}``. See docs/bridge.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lgvsc.cli._profile_args import add_profile_arguments

__all__ = ["add_parser", "run"]

LOCAL = "tcp://127.0.0.1:{}"


def _common(p: argparse.ArgumentParser, base_port: int) -> None:
    g = p.add_argument_group("sockets and security")
    g.add_argument("--control", default=LOCAL.format(base_port),
                   help="ROUTER endpoint for control requests (msgpack); port * picks a free one "
                        "(default %(default)s)")
    g.add_argument("--status", default=LOCAL.format(base_port + 1),
                   help="PUB endpoint for status/heartbeat events (default %(default)s); 'none' disables")
    g.add_argument("--curve-secret", type=Path, metavar="FILE",
                   help="CURVE server certificate with secret key (zmq.auth format); required to bind a "
                        "non-loopback address, see docs/remote-worker.md")
    g.add_argument("--curve-clients", type=Path, metavar="DIR",
                   help="directory of allowed client public certificates (with --curve-secret)")
    g.add_argument("--allow-insecure-remote", action="store_true",
                   help="allow binding a non-loopback address without CURVE (trusted networks only)")
    g.add_argument("--queue-depth", type=int, default=256, help="bound of each internal queue (default %(default)s)")
    g.add_argument("--heartbeat", type=float, default=0.5, help="seconds between heartbeat events (default %(default)s)")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("worker", help="run a ZeroMQ worker that serves the radio side",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="worker_kind", metavar="KIND", required=True)

    e = sub.add_parser("encode", help="encoder worker: jobs in (control), semantic packet PDUs out (credit-based)")
    e.add_argument("--pdu-out", default=LOCAL.format(5551),
                   help="ROUTER endpoint that semantic_source (DEALER) asks for packets with credits "
                        "(default %(default)s)")
    e.add_argument("--push", metavar="ENDPOINT",
                   help="also/instead serve a PUSH endpoint paced at --rate (for stock gr-zeromq pull_msg_source)")
    e.add_argument("--rate", type=float, default=200.0, help="packets/s on --push (default %(default)s)")
    e.add_argument("--job", type=Path, metavar="VIDEO", help="start encoding this video at once (else wait for a job request)")
    e.add_argument("--mtu", type=int, default=None, help="PDU size limit for --job (default: packets module default)")
    e.add_argument("--profile", default="classical", help="backend profile (default %(default)s)")
    _common(e, 5552)
    e.set_defaults(func=run)

    d = sub.add_parser("decode", help="decoder worker: received PDUs in, video + report out",
                       description="Reassemble received PDUs, decode each segment as soon as its keyframes and "
                                   "meta are in, and on 'finish' (control op, or the end of the stream with "
                                   "--finish-on-end) write OUT_DIR/reconstruction.mp4 and OUT_DIR/decode_report.json.")
    d.add_argument("--pdu-in", default=LOCAL.format(5560),
                   help="PULL endpoint to bind for received PDUs: semantic_sink, or a stock gr-zeromq "
                        "push_msg_sink with bind=False (default %(default)s)")
    d.add_argument("--sub", metavar="ENDPOINT",
                   help="also connect a SUB socket to a stock gr-zeromq pub_msg_sink that binds ENDPOINT")
    d.add_argument("--out-dir", "-o", "--output", dest="out_dir", type=Path, required=True,
                   help="directory for reconstruction.mp4 and decode_report.json (created)")
    d.add_argument("--finish-on-end", action="store_true",
                   help="finish (write video and report) as soon as the stream's end object arrives")
    d.add_argument("--exit-on-finish", action="store_true", help="exit after a finish")
    d.add_argument("--crf", type=int, default=18, help="H.264 quality of the output, 0..51 (default %(default)s)")
    add_profile_arguments(d)
    _common(d, 5562)
    d.set_defaults(func=run)

    x = sub.add_parser("echo", help="echo worker for benchmarks and tests: PDUs in, the same PDUs out")
    x.add_argument("--pdu-in", default=LOCAL.format(5570), help="PULL endpoint (default %(default)s)")
    x.add_argument("--pdu-out", default=LOCAL.format(5571),
                   help="PUSH endpoint for the echoed PDUs (default %(default)s); 'none' disables")
    x.add_argument("--delay", type=float, default=0.0, help="seconds to sleep per PDU (a slow worker)")
    _common(x, 5572)
    x.set_defaults(func=run)


def _none(v: str | None) -> str | None:
    return None if v is None or v.lower() == "none" else v


def run(args: argparse.Namespace) -> int:
    from lgvsc.errors import UserError
    from lgvsc.workers.base import WorkerOptions
    from lgvsc.workers.transport import CurveConfig

    if (args.curve_secret is None) != (args.curve_clients is None):
        raise UserError("--curve-secret and --curve-clients go together")
    if args.queue_depth < 1:
        raise UserError("--queue-depth must be at least 1")
    curve = CurveConfig(args.curve_secret, args.curve_clients) if args.curve_secret else None
    options = WorkerOptions(control=_none(args.control), status=_none(args.status), curve=curve,
                            allow_insecure_remote=args.allow_insecure_remote, heartbeat_s=args.heartbeat,
                            queue_depth=args.queue_depth)
    if args.worker_kind == "echo":
        from lgvsc.workers.echo import EchoWorker

        worker = EchoWorker(options, pdu_in=args.pdu_in, pdu_out=_none(args.pdu_out), delay_s=args.delay)
    elif args.worker_kind == "encode":
        from lgvsc.workers.encoder import EncoderWorker

        if args.job is not None and not args.job.is_file():
            raise UserError(f"video not found: {args.job}")
        worker = EncoderWorker(options, pdu_out=_none(args.pdu_out), push=args.push, rate=args.rate,
                               profile=args.profile, job=args.job, mtu=args.mtu)
    else:
        from lgvsc.cli._profile_args import profile_options
        from lgvsc.workers.decoder import DecoderWorker

        if not 0 <= args.crf <= 51:
            raise UserError(f"--crf must lie in 0..51, got {args.crf}")
        worker = DecoderWorker(options, out_dir=args.out_dir, pdu_in=args.pdu_in, profile=args.profile,
                               profile_options=profile_options(args), sub=args.sub,
                               finish_on_end=args.finish_on_end, exit_on_finish=args.exit_on_finish, crf=args.crf)
    return worker.run_forever()
