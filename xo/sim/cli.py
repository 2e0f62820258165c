"""`xo-sim` / `python -m xo.sim`: serve simulated XAPI pools until SIGINT or SIGTERM.

When every host listens, one JSON line per pool goes to stdout (then flushed):
`{"pool": <name>, "master": <url>, "hosts": [<url>...], "username": ..., "password": ...}`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

import orjson
import trio

from xo.sim.net.tls import certificate_pem
from xo.sim.scenario import PoolSpec, build_world
from xo.sim.serve import RunningSim, open_sim
from xo.sim.timing import Timing

DEMO = {"pools": 2, "hosts": 3, "vms": 50}
# xapi sleeps this long before answering SESSION_AUTHENTICATION_FAILED.
LOGIN_FAILURE_DELAY = 5.0
# --demo is for people trying things: a mistyped password costs a second, not five.
DEMO_LOGIN_FAILURE_DELAY = 1.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xo-sim",
        description=(
            "Serve simulated XenServer / XCP-ng pools (XAPI over XML-RPC and JSON-RPC, events, "
            "VM import/export, disks, consoles). Each host listens on its own loopback IP "
            "(127.0.<pool>.<host+1>), all on one port, and its address is that bare IP. When ready, "
            "prints one JSON line per pool on stdout: "
            '{"pool", "master", "hosts", "username", "password"}. Stops on SIGINT/SIGTERM.'
        ),
    )
    parser.add_argument(
        "--pools", type=int, default=1, metavar="N", help="number of pools (default 1)"
    )
    parser.add_argument(
        "--hosts", type=int, default=2, metavar="N", help="hosts per pool (default 2)"
    )
    parser.add_argument(
        "--vms", type=int, default=10, metavar="N", help="VMs per pool (default 10)"
    )
    parser.add_argument(
        "--seed", type=int, default=1, metavar="N", help="scenario seed (default 1)"
    )
    parser.add_argument(
        "--flavour",
        choices=("xenserver", "xcp-ng"),
        default="xenserver",
        help="product the pools pretend to be (default xenserver)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDR",
        help=(
            "base address (default 127.0.0.1): on 127.0.0.0/8 each host gets its own IP from it, "
            "all on one port; any other address serves each host on its own port of it"
        ),
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        metavar="P",
        help=(
            "the port every host listens on (default 0 = a free one); with a non-loopback "
            "--host, the first of consecutive ports"
        ),
    )
    parser.add_argument(
        "--tls", action="store_true", help="serve HTTPS with a self-signed certificate"
    )
    parser.add_argument(
        "--scenario",
        metavar="FILE",
        help="load pools from a JSON scenario file instead of generating them",
    )
    parser.add_argument(
        "--timing-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="multiply simulated operation durations (default 1.0; 0.01 for tests)",
    )
    parser.add_argument(
        "--login-failure-delay",
        type=float,
        default=None,
        metavar="SECONDS",
        help=(
            "wait before answering a failed login, as xapi does (default 5.0 like xapi; "
            f"{DEMO_LOGIN_FAILURE_DELAY} with --demo; 0 = answer at once)"
        ),
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="2 pools (one XCP-ng, one XenServer), 3 hosts and 50 VMs each; explains how to connect",
    )
    parser.add_argument(
        "--print-cert", action="store_true", help="print the TLS certificate (PEM) and exit"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.login_failure_delay is not None and not args.login_failure_delay >= 0:
        parser.error("--login-failure-delay must be a number of seconds >= 0")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    if args.print_cert:
        sys.stdout.write(certificate_pem().decode())
        return 0
    try:
        trio.run(_serve, args)
    except KeyboardInterrupt:
        pass
    return 0


def login_failure_delay(args: argparse.Namespace) -> float:
    """`--login-failure-delay`, else xapi's 5 s (1 s for `--demo`)."""
    if args.login_failure_delay is not None:
        return float(args.login_failure_delay)
    return DEMO_LOGIN_FAILURE_DELAY if args.demo else LOGIN_FAILURE_DELAY


async def _serve(args: argparse.Namespace) -> None:
    timing = Timing(scale=args.timing_scale, login_failure_delay=login_failure_delay(args))
    async with trio.open_nursery() as nursery:
        stop = trio.Event()
        nursery.start_soon(_wait_for_signal, stop)
        if args.demo:
            await _serve_demo(args, timing, stop)
        else:
            async with open_sim(
                pools=args.pools,
                hosts=args.hosts,
                vms=args.vms,
                seed=args.seed,
                flavour=args.flavour,
                tls=args.tls,
                timing=timing,
                bind=args.host,
                port=args.port,
                scenario=args.scenario,
            ) as sim:
                _announce(sim)
                await stop.wait()
        nursery.cancel_scope.cancel()


async def _serve_demo(args: argparse.Namespace, timing: Timing, stop: trio.Event) -> None:
    """One XCP-ng pool and one XenServer pool, served side by side."""
    specs = [
        PoolSpec(hosts=DEMO["hosts"], vms=DEMO["vms"], flavour="xcp-ng"),
        PoolSpec(hosts=DEMO["hosts"], vms=DEMO["vms"], flavour="xenserver"),
    ]
    world = build_world(seed=args.seed, timing=timing, specs=specs)
    async with open_sim(world=world, tls=args.tls, bind=args.host, port=args.port) as sim:
        _announce(sim)
        lines = [
            f"  {pool.name}: {pool.master_url} (user {pool.username!r}, password {pool.password!r})"
            for pool in sim.pools
        ]
        print(
            f"xo-sim demo: {len(sim.pools)} pools of {DEMO['hosts']} hosts and {DEMO['vms']} VMs.\n"
            "Point a XAPI client (XenAPI, xen-api, Xen Orchestra) at a pool master:\n"
            + "\n".join(lines)
            + "\nCtrl-C stops.",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()


def _announce(sim: RunningSim) -> None:
    for pool in sim.pools:
        sys.stdout.write(orjson.dumps(pool.describe()).decode() + "\n")
    sys.stdout.flush()


async def _wait_for_signal(stop: trio.Event) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            stop.set()
            return


if __name__ == "__main__":
    sys.exit(main())
