"""The ``hashbench`` command: run, list, table, evaluate.

Every user mistake ends in one line, ``hashbench: error: ...``, exit status 2, no traceback.
A grid whose runs partly failed (a diverged training) ends with their list and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from hashbench.errors import HashbenchError, RunsFailed

EXIT_RUNS_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def name_list(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated names")
    return names


def topk_value(text: str) -> int | None:
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'all', got {text!r}"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all', got {text!r}")
    return value


def method_setting(text: str) -> tuple[str, str, Any]:
    """``METHOD.KEY=VALUE``; the value is read as JSON when it parses, else as a string."""
    target, sep, raw = text.partition("=")
    method, dot, key = target.partition(".")
    if not (sep and dot and method and key):
        raise argparse.ArgumentTypeError(f"expected METHOD.KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return method, key, value


def add_results_argument(parser: argparse.ArgumentParser) -> None:
    """The folder that commands reading records (table, figure) read from."""
    parser.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        help="results folder holding records/ (default: results)",
    )


def build_parser() -> Parser:
    parser = Parser(prog="hashbench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    run = commands.add_parser(
        "run",
        help="train, encode and evaluate methods on a protocol; write records and a table",
        description="Runs every (method, bits, seed) on the data set's protocol. Finished runs "
        "are kept as records and skipped when the command is repeated (use --force to redo).",
    )
    run.add_argument(
        "--methods",
        type=name_list,
        default=("lsh", "itq"),
        help="comma-separated method names (default: lsh,itq; see `hashbench list`)",
    )
    run.add_argument(
        "--dataset",
        default="digits",
        help="data set name, or a path to an image folder or archive "
        "(default: digits, bundled with scikit-learn)",
    )
    run.add_argument("--protocol", help="protocol name or .toml file (default: the data set's own)")
    run.add_argument(
        "--bits",
        type=int_list,
        help="comma-separated code lengths (default: the protocol's, e.g. 24,48,64,128)",
    )
    run.add_argument(
        "--seeds", type=int_list, default=(0,), help="comma-separated seeds (default: 0)"
    )
    run.add_argument(
        "--feature",
        default="pixels",
        help="features for non-deep methods (default: pixels; see `hashbench list`)",
    )
    run.add_argument(
        "--set",
        dest="settings",
        type=method_setting,
        action="append",
        default=[],
        metavar="METHOD.KEY=VALUE",
        help="set a method's hyper-parameter (repeatable)",
    )
    run.add_argument(
        "--data-root",
        type=Path,
        action="append",
        help="folder to look for data sets in (repeatable; default: $HASHBENCH_DATA, "
        "else ./data and ../shared/data)",
    )
    run.add_argument(
        "--image-size",
        type=int,
        help="resize every image to this square size (default: the source's own size; "
        "64 for the list-file data sets coco, nuswide, imagenet100)",
    )
    run.add_argument(
        "--out",
        type=Path,
        default=Path("results"),
        help="results folder for records, splits and tables (default: results)",
    )
    run.add_argument("--force", action="store_true", help="redo runs that already have a record")
    run.add_argument(
        "--save-codes",
        type=Path,
        metavar="DIR",
        help="also write each run's codes and labels as DIR/<protocol>/<run>.npz",
    )
    run.set_defaults(handler=command_run)

    listing = commands.add_parser("list", help="list methods, data sets, protocols and features")
    listing.set_defaults(handler=command_list)

    table = commands.add_parser("table", help="turn records into a CSV, Markdown or LaTeX table")
    add_results_argument(table)
    table.add_argument("--format", default="markdown", choices=["csv", "markdown", "latex"])
    table.add_argument(
        "--metric",
        default="map",
        help="map (the protocol's mAP@K, default), map_tie, or a metric key such as precision@r2",
    )
    table.add_argument("--methods", type=name_list, help="only these methods, e.g. lsh,itq")
    table.add_argument("--protocols", type=name_list, help="only these protocols")
    table.add_argument("--bits", type=int_list, help="only these code lengths, e.g. 24,48")
    table.add_argument(
        "--defaults-only",
        action="store_true",
        help="only runs with each method's default hyper-parameters",
    )
    table.add_argument(
        "--compare-paper",
        action="store_true",
        help="set the DMRH paper's published mAP@5000 beside ours, with the difference",
    )
    table.add_argument("--output", type=Path, help="write to this file instead of stdout")
    table.set_defaults(handler=command_table)

    reproduce = commands.add_parser(
        "reproduce",
        help="run a paper's whole grid and write its tables, figures and a README",
        description="Runs every method x bits x seed of the paper on each of its data sets that "
        "can be found, plus the regions sweep; resumable. Without a GPU the deep methods run at a "
        "CPU-sized setting into <out>/cpu-sized/, kept out of the paper table.",
    )
    reproduce.add_argument("paper", choices=["dmrh"], help="the paper to reproduce")
    reproduce.add_argument(
        "--out", type=Path, default=Path("results"), help="results folder (default: results)"
    )
    reproduce.add_argument(
        "--seeds", type=int_list, default=(0, 1, 2), help="comma-separated seeds (default: 0,1,2)"
    )
    reproduce.add_argument(
        "--data-root",
        type=Path,
        action="append",
        help="folder to look for data sets in (repeatable)",
    )
    reproduce.set_defaults(handler=command_reproduce)

    figure = commands.add_parser(
        "figure", help="draw a figure from records: regions, convergence or pr (PNG and PDF)"
    )
    figure.add_argument(
        "kind",
        choices=["regions", "convergence", "pr"],
        help="regions: mAP against N; convergence: loss and validation mAP "
        "against epoch; pr: precision-recall per method",
    )
    add_results_argument(figure)
    figure.add_argument("--bits", type=int, help="the code length to draw (convergence, pr)")
    figure.add_argument(
        "--output", type=Path, help="file stem to write (default: <results>/figures/<kind>)"
    )
    figure.set_defaults(handler=command_figure)

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate codes from anywhere: an .npz with query/database codes and labels",
        description="Reads query_codes, database_codes (n x bits, {0,1} or {-1,+1}), "
        "query_labels and database_labels (class ids or multi-hot) from an .npz file.",
    )
    evaluate.add_argument("codes", type=Path, metavar="CODES.npz")
    evaluate.add_argument(
        "--topk",
        type=topk_value,
        default=5000,
        help="K of mAP@K: a positive integer or 'all' (default: 5000)",
    )
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.set_defaults(handler=command_evaluate)
    return parser


def command_run(args: argparse.Namespace) -> None:
    from hashbench.fileio import atomic_write_text
    from hashbench.provenance import command_line
    from hashbench.records import iter_records
    from hashbench.runner import GridRunner, RunPlan
    from hashbench.tables import render, summarise

    params: dict[str, dict[str, Any]] = {}
    for method, key, value in args.settings:
        params.setdefault(method, {})[key] = value
    plan = RunPlan(
        methods=args.methods,
        dataset=args.dataset,
        out_dir=args.out,
        protocol=args.protocol,
        bits=args.bits,
        seeds=args.seeds,
        feature=args.feature,
        params=params,
        data_root=tuple(args.data_root) if args.data_root else None,
        image_size=args.image_size,
        force=args.force,
        save_codes=args.save_codes,
        command=command_line(args.arguments),
    )
    runner = GridRunner(plan)
    outcomes = runner.run()
    summary = summarise(iter_records(runner.records_dir))
    for fmt, suffix in (("csv", "csv"), ("markdown", "md"), ("latex", "tex")):
        atomic_write_text(args.out / f"table.{suffix}", render(summary, fmt))
    failed = [outcome.failure for outcome in outcomes if outcome.failure]
    done = sum(not outcome.skipped for outcome in outcomes) - len(failed)
    print(render(summary, "markdown"), end="")
    print(
        f"\n{done} run(s) done, {len(outcomes) - done - len(failed)} already recorded; records "
        f"in {runner.records_dir}, tables in {args.out}/table.{{csv,md,tex}}"
    )
    if failed:
        raise RunsFailed(f"{len(failed)} run(s) failed, without records:\n" + "\n".join(failed))


def command_list(args: argparse.Namespace) -> None:
    from hashbench.datasets import list_datasets
    from hashbench.features import list_features
    from hashbench.protocol import list_protocols
    from hashbench.registry import REGISTRY

    print("Methods:")
    for name in REGISTRY.names():
        cls = REGISTRY.get(name)
        summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        kind = f"{cls.input_kind}, {'supervised' if cls.supervised else 'unsupervised'}"
        print(f"  {name:<10} {kind:<24} {summary}  [{REGISTRY.origin(name)}]")
    print("Data sets:")
    for name, description in list_datasets():
        print(f"  {name:<10} {description}")
    print("Protocols:")
    for protocol in list_protocols():
        print(f"  {protocol.name:<14} {protocol.description}")
    print("Features:")
    for feature in list_features():
        print(f"  {feature.name:<10} {feature.description}")


def command_table(args: argparse.Namespace) -> None:
    from hashbench.fileio import atomic_write_text
    from hashbench.tables import TableFilter, compare_with_paper, render, summarise

    keep = TableFilter(args.methods, args.protocols, args.bits, args.defaults_only)
    summary = summarise(records_in(args.results), args.metric, keep)
    if args.compare_paper:
        summary = compare_with_paper(summary)
    text = render(summary, args.format)
    if args.output:
        atomic_write_text(args.output, text)
    else:
        print(text, end="")


def command_reproduce(args: argparse.Namespace) -> None:
    from hashbench.reproduce import reproduce

    data_root = tuple(args.data_root) if args.data_root else None
    readme = reproduce(args.paper, args.out, args.seeds, data_root, args.arguments)
    print(f"wrote {readme} and the tables and figures beside it")


def records_in(results: Path) -> list[dict[str, Any]]:
    from hashbench.records import iter_records

    records_dir = results / "records"
    if not records_dir.is_dir():
        raise HashbenchError(
            f"no records folder {records_dir}; run `hashbench run --out {results}` first"
        )
    return list(iter_records(records_dir))


def command_figure(args: argparse.Namespace) -> None:
    from hashbench.figures import make_figure

    stem = args.output or args.results / "figures" / args.kind
    for path in make_figure(args.kind, records_in(args.results), stem, args.bits):
        print(path)


def command_evaluate(args: argparse.Namespace) -> None:
    from hashbench.codes_file import load_codes
    from hashbench.evaluation import evaluate

    bundle = load_codes(args.codes)
    result = evaluate(
        bundle.query_codes,
        bundle.database_codes,
        bundle.query_labels,
        bundle.database_labels,
        topk=args.topk,
    )
    if args.json:
        print(json.dumps({"metrics": result.metrics, "curves": result.curves}, indent=1))
    else:
        for key, value in result.metrics.items():
            print(f"{key:<16} {value:.6f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(arguments)
    args.arguments = arguments
    handler: Callable[[argparse.Namespace], None] = args.handler
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


if __name__ == "__main__":
    sys.exit(main())
