"""The ``hashbench`` command: run, list, table, figure, evaluate, reproduce.

Every user mistake ends in one line, ``hashbench: error: ...``, exit status 2, no traceback.
A grid whose runs partly failed (a diverged training) ends with their list and exit status 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from hashbench.cli.parser import EXIT_USAGE, build_parser
from hashbench.errors import HashbenchError, RunsFailed

EXIT_RUNS_FAILED = 1
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(arguments)
    args.arguments = arguments
    handler: Callable = args.handler
    try:
        handler(args)
    except RunsFailed as error:
        print(f"hashbench: {error}", file=sys.stderr)
        return EXIT_RUNS_FAILED
    except HashbenchError as error:
        print(f"hashbench: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(
            "hashbench: interrupted; finished runs are kept, repeat the command to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return 0
