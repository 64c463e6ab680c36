"""The ``hashbench`` command: run, list, table, figure, evaluate, reproduce.

Every user mistake ends in one line, ``hashbench: error: ...``, exit status 2, no traceback.
A grid whose runs partly failed (a diverged training) ends with their list and exit status 1.
Anything else that goes wrong is a bug: it too ends in one line, naming the command and the
error and saying how to see the traceback (``--debug`` or ``HASHBENCH_DEBUG=1``), with exit
status 3; files are written atomically, so it leaves none half-written.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from hashbench.cli.parser import EXIT_USAGE, build_parser
from hashbench.errors import HashbenchError, RunsFailed

EXIT_RUNS_FAILED = 1
EXIT_BUG = 3
EXIT_INTERRUPTED = 130
DEBUG_VARIABLE = "HASHBENCH_DEBUG"


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
    except Exception as error:
        if args.debug or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
            raise
        first = (str(error).strip().splitlines() or [""])[0]
        print(
            f"hashbench: error: `hashbench {args.command}` failed unexpectedly: "
            f"{type(error).__name__}: {first}; run it again with --debug (or "
            f"{DEBUG_VARIABLE}=1) for the traceback, and report it",
            file=sys.stderr,
        )
        return EXIT_BUG
    return 0
