"""``responsepredictor`` command line: one subcommand per engine function.

Exit codes: 0 done; 1 unexpected internal error (a bug: please report it with the traceback);
2 bad command line; 3 bad input (a file, mask, geometry or settings problem, explained on stderr).
Nothing is written to an output path unless the whole result is there. A process that started the
command can ask for progress lines and for how it ended, in a file (``engine_status``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..engine_status import (
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Ending,
    status_file,
    write_ending,
)
from ..errors import InputError
from . import (
    demo_command,
    evaluate_command,
    explain_command,
    featuremap_command,
    features_command,
    models_command,
    predict_command,
    report_command,
    run_command,
    segment_command,
    segment_session_command,
    train_command,
)

COMMANDS = (
    features_command,
    featuremap_command,
    segment_command,
    segment_session_command,
    models_command,
    train_command,
    predict_command,
    evaluate_command,
    explain_command,
    run_command,
    report_command,
    demo_command,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="responsepredictor",
        description="Treatment-response prediction from a baseline scan (engine of the 3D Slicer extension).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; where the starting process asked for it, write how it ended, whatever the end."""
    ending: Ending | None = None  # stays None only for what is neither an ending nor a bug (Ctrl+C while parsing)
    try:
        ending = run_command(argv)
    except SystemExit as stop:
        # argparse: --help or --version (0), or a bad command line (2, said on stderr). Any other code
        # comes from somewhere else (a library calling sys.exit): not the user's command line.
        code = stop.code if isinstance(stop.code, int) else (EXIT_OK if stop.code is None else EXIT_INTERNAL)
        if code == EXIT_OK:
            ending = Ending(code)
        elif code == EXIT_USAGE:
            ending = Ending(code, "bad command line (see the log)")
        else:
            ending = Ending(code, f"internal error (it exited with {stop.code!r}); please report it with the log")
        raise
    except Exception as error:  # a bug: Python prints the traceback and exits with 1, as without the file
        ending = Ending(EXIT_INTERNAL, f"internal error ({type(error).__name__}: {error}); the log has the traceback")
        raise
    finally:
        path = status_file()
        if path is not None and ending is not None:
            write_ending(path, ending)
    return ending.exit


def run_command(argv: Sequence[str] | None) -> Ending:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except InputError as error:
        print(f"responsepredictor {args.command}: error: {error}", file=sys.stderr)
        return Ending(EXIT_INPUT, str(error))
    except KeyboardInterrupt:
        print(f"responsepredictor {args.command}: interrupted; nothing more was written.", file=sys.stderr)
        return Ending(EXIT_INTERRUPTED, "interrupted; nothing more was written")
    return Ending(EXIT_OK)


if __name__ == "__main__":
    sys.exit(main())
