"""``responsepredictor`` command line: one subcommand per engine function.

Exit codes: 0 done; 1 unexpected internal error (a bug: please report it with the traceback);
2 bad command line; 3 bad input (a file, mask, geometry or settings problem, explained on stderr).
Nothing is written to an output path unless the whole result is there.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
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
    train_command,
)

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INPUT = 0, 1, 2, 3

COMMANDS = (
    features_command,
    featuremap_command,
    segment_command,
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
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except InputError as error:
        print(f"responsepredictor {args.command}: error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print(f"responsepredictor {args.command}: interrupted; nothing more was written.", file=sys.stderr)
        return 130
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
