"""``xo-server [--config FILE] [--listen HOST:PORT] [--datadir DIR] [--demo]``.

Exit status: 0 after a graceful stop (SIGINT/SIGTERM: WebSockets closed with 1001), 2 for an
invalid configuration (one line naming the key), 1 when start-up fails (e.g. the port is taken).
A second SIGINT/SIGTERM during the graceful stop cancels everything at once.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

import trio

from xo.app import XoServerApp
from xo.config import Config, ConfigError, load_config


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="xo-server", description="Xen Orchestra compatible management server"
    )
    parser.add_argument("--config", metavar="FILE", help="TOML configuration file (or XO_CONFIG)")
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        action="append",
        help="address to listen on (repeatable; port 0 picks a free one; or XO_LISTEN)",
    )
    parser.add_argument("--datadir", metavar="DIR", help="data directory (or XO_DATADIR)")
    parser.add_argument(
        "--demo", action="store_true", help="start an embedded xapi-sim and register its pools"
    )
    return parser.parse_args(argv)


# Ctrl-C in a terminal reaches both the one-file binary's bootloader and this process, and the
# bootloader forwards its copy too: two SIGINTs microseconds apart are one request, not "hurry up".
SAME_REQUEST_WINDOW = 1.0  # seconds


async def _stop_on_signals(app: XoServerApp, cancel: trio.CancelScope) -> None:
    first_at: float | None = None
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            if first_at is not None and trio.current_time() - first_at < SAME_REQUEST_WINDOW:
                continue
            if app._stop.is_set():
                logging.getLogger("xo.server").warning("second signal: stopping now")
                cancel.cancel()
                return
            logging.getLogger("xo.server").info("%s: graceful stop", signal.Signals(signum).name)
            first_at = trio.current_time()
            app.stop()


async def serve(config: Config) -> None:
    app = XoServerApp(config, announce=lambda line: print(line, flush=True))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stop_on_signals, app, nursery.cancel_scope)
        await app.run()
        nursery.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(
            config_file=args.config, listen=args.listen, datadir=args.datadir, demo=args.demo
        )
    except ConfigError as exc:
        print(f"xo-server: invalid configuration: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        trio.run(serve, config)
    except OSError as exc:
        print(f"xo-server: cannot start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
