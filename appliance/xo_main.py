"""The single `xo` entry point of the appliance binary.

    xo server [options]     xo-server (the management server)
    xo sim [options]        xo-sim (simulated XAPI pools)
    xo cli [options]        xo-cli (once it exists)
    xo selfcheck            prove the binary is whole: imports, native extensions, data files
    xo version

The same commands answer through argv[0]: a symlink named `xo-server`, `xo-sim` or `xo-cli`
to the binary runs that command. Each command's module is imported only when chosen, so
`xo sim` never pays for the web stack and start-up stays short.
"""

from __future__ import annotations

import importlib
import os
import sys

# command -> module whose main() runs it. Strings, imported lazily; the PyInstaller spec
# collects every xo submodule, so nothing here has to be visible to its import analysis.
COMMANDS: dict[str, str] = {
    "server": "xo.server_cli",
    "sim": "xo.sim.cli",
    "cli": "xo.cli.main",
}
LOCAL_COMMANDS = ("selfcheck", "version", "help")


def usage() -> str:
    names = ", ".join([*COMMANDS, *LOCAL_COMMANDS])
    return f"usage: xo COMMAND [ARGS...]   (COMMAND: {names}; or run as xo-server, xo-sim, xo-cli)"


def split_command(argv: list[str]) -> tuple[str | None, list[str]]:
    """(command, its arguments) from argv, by argv[0]'s name or else by argv[1]."""
    program = os.path.basename(argv[0]) if argv else "xo"
    if program.startswith("xo-") and program[3:] in COMMANDS:
        return program[3:], argv[1:]
    if len(argv) < 2:
        return None, []
    command = argv[1]
    if command in ("-h", "--help"):
        return "help", []
    if command == "--version":
        return "version", []
    return command, argv[2:]


def run_command(command: str, args: list[str]) -> int:
    module = importlib.import_module(COMMANDS[command])
    # The command parses sys.argv like its own console script would, and names itself in
    # --help as the symlink would.
    sys.argv = [f"xo-{command}", *args]
    result = module.main()
    return result if isinstance(result, int) else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    command, args = split_command(argv)
    if command in COMMANDS:
        try:
            return run_command(command, args)
        except ModuleNotFoundError as exc:
            if exc.name != COMMANDS[command]:
                raise
            print(f"xo: command {command!r} is not available in this build", file=sys.stderr)
            return 2
    if command == "selfcheck":
        import selfcheck  # appliance/selfcheck.py

        return selfcheck.main(args)
    if command == "version":
        import selfcheck

        print(selfcheck.version())
        return 0
    if command == "help":
        print(usage())
        return 0
    print(usage(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
