"""The ``hashbench`` command line: every sub-command and its options (shared ones come from
:mod:`hashbench.cli.options`). Handlers live in :mod:`hashbench.cli.commands`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from hashbench.cli import commands
from hashbench.cli.options import (
    add_compare_paper,
    add_data_root,
    add_results,
    add_seeds,
    int_list,
    key_value,
    method_setting,
    name_list,
    topk_value,
)
from hashbench.evaluation.names import GRADED_AT
from hashbench.experiment.claims import DEFAULT_TIMEOUT_S

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> Parser:
    parser = Parser(prog="hashbench", description="learning-to-hash benchmarks, end to end")
    add_debug(parser, default=False)
    commands_ = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_run(commands_)
    add_status(commands_)
    add_list(commands_)
    add_table(commands_)
    add_compare(commands_)
    add_reproduce(commands_)
    add_figure(commands_)
    add_evaluate(commands_)
    add_report(commands_)
    for command in commands_.choices.values():
        add_debug(command, default=argparse.SUPPRESS)  # after the command too; not reset there
    return parser


def add_debug(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="show the traceback of an unexpected error (also: HASHBENCH_DEBUG=1)",
    )


def add_run(commands_: argparse._SubParsersAction) -> None:
    # Defaults are None here and filled in by the handler, so that a --config file can give
    # what the flags did not (RUN_DEFAULTS in hashbench.cli.commands).
    run = commands_.add_parser(
        "run",
        help="train, encode and evaluate methods on a protocol; write records and a table",
        description="Runs every (method, bits, seed) on the data set's protocol. Finished runs "
        "are kept as records and skipped when the command is repeated (use --force to redo).",
    )
    run.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="read the options from a TOML file (the flags' names, [set.METHOD] tables) or "
        "from a run's record (.json) to run it again; flags override the file",
    )
    run.add_argument(
        "--methods",
        type=name_list,
        help="comma-separated method names (default: lsh,itq; see `hashbench list`)",
    )
    run.add_argument(
        "--dataset",
        help="data set name, or a path to a folder of list files (train.txt, test.txt, "
        "database.txt), an image folder or an archive (default: digits, bundled with scikit-learn)",
    )
    run.add_argument("--protocol", help="protocol name or .toml file (default: the data set's own)")
    run.add_argument(
        "--bits",
        type=int_list,
        help="comma-separated code lengths (default: the protocol's, e.g. 24,48,64,128)",
    )
    add_seeds(run, None, "0")
    run.add_argument(
        "--feature",
        help="features for non-deep methods (default: the data set's literature's: gist, "
        "pixels on digits; see `hashbench list`)",
    )
    run.add_argument(
        "--set",
        dest="settings",
        type=method_setting,
        action="append",
        default=[],
        metavar="METHOD.KEY=VALUE",
        help="set a method's hyper-parameter (repeatable; `hashbench list METHOD` shows them)",
    )
    add_data_root(run)
    run.add_argument(
        "--image-size",
        type=int,
        help="resize every image to this square size (default: the source's own size; "
        "64 for the list-file data sets: coco, nuswide, imagenet100, mirflickr, voc2012 and "
        "folders of list files)",
    )
    add_results(run, default=None)
    run.add_argument(
        "--force", action="store_true", default=None, help="redo runs that already have a record"
    )
    add_claim_timeout(run)
    workers = run.add_argument_group("where the runs execute")
    workers.add_argument(
        "--executor",
        choices=["inline", "local", "slurm"],
        default="inline",
        help="inline: one after another in this process (default); local: --jobs worker "
        "processes here; slurm: one SLURM job per (method, bits, seed) through submitit",
    )
    workers.add_argument(
        "--jobs", type=int, default=2, help="worker processes of --executor local (default: 2)"
    )
    workers.add_argument("--slurm-partition", help="SLURM partition")
    workers.add_argument(
        "--slurm-time", type=int, default=60, metavar="MINUTES", help="time limit per job"
    )
    workers.add_argument(
        "--slurm-gpus-per-task",
        type=int,
        metavar="N",
        help="GPUs per job; required with deep methods (0: train them on the nodes' CPUs)",
    )
    workers.add_argument("--slurm-cpus-per-task", type=int, metavar="N")
    workers.add_argument("--slurm-mem", metavar="SIZE", help="memory per job, e.g. 32G")
    workers.add_argument(
        "--slurm-extra",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other sbatch parameter, e.g. account=myproject (repeatable)",
    )
    workers.add_argument(
        "--slurm-logs",
        type=Path,
        metavar="DIR",
        help="folder for submitit's scripts and logs (default: <results>/slurm-logs)",
    )
    run.set_defaults(handler=commands.command_run)


def add_claim_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--claim-timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help="a run whose worker sent no heartbeat for this long is stale and taken over "
        f"(default: {DEFAULT_TIMEOUT_S:.0f})",
    )


def add_status(commands_: argparse._SubParsersAction) -> None:
    status = commands_.add_parser(
        "status",
        help="the grid in a results folder: done, running, queued, failed, pending",
    )
    add_results(status)
    add_claim_timeout(status)
    status.set_defaults(handler=commands.command_status)


def add_list(commands_: argparse._SubParsersAction) -> None:
    listing = commands_.add_parser(
        "list",
        help="list methods, data sets, protocols and features, or one method's parameters",
    )
    listing.add_argument(
        "method", nargs="?", help="show this method's parameters and their defaults"
    )
    listing.set_defaults(handler=commands.command_list)


def add_table(commands_: argparse._SubParsersAction) -> None:
    table = commands_.add_parser(
        "table", help="turn records into a CSV, Markdown, LaTeX or HTML table"
    )
    add_results(table)
    table.add_argument("--format", default="markdown", choices=["csv", "markdown", "latex", "html"])
    table.add_argument(
        "--metric",
        default="map",
        help="map (the protocol's mAP@K, default), map_tie, wap (multi-label: weighted mAP@K), "
        "a metric key such as precision@r2 or ndcg@1000, or val_map (the validation mAP that "
        "model selection kept: a sweep's criterion)",
    )
    table.add_argument("--methods", type=name_list, help="only these methods, e.g. lsh,itq")
    table.add_argument("--protocols", type=name_list, help="only these protocols")
    table.add_argument("--bits", type=int_list, help="only these code lengths, e.g. 24,48")
    table.add_argument(
        "--defaults-only",
        action="store_true",
        help="only runs with each method's default hyper-parameters",
    )
    add_compare_paper(table)
    table.add_argument("--output", type=Path, help="write to this file instead of stdout")
    table.set_defaults(handler=commands.command_table)


def add_compare(commands_: argparse._SubParsersAction) -> None:
    compare = commands_.add_parser(
        "compare",
        help="is a difference real? two runs, or two methods, paired over the same queries",
        description="A and B are two runs (record files, or run names such as "
        "dpsh-48bits-seed0-cf397896d098) or two methods (with --bits, and --protocol where "
        "they ran on several; their runs at the defaults, every seed). Prints the paired mean "
        "difference over the queries both searched, its bootstrap interval, the sign-flip "
        "test's p-value, and where there are several seeds how they spread.",
    )
    compare.add_argument("first", metavar="A", help="a record file, a run name or a method")
    compare.add_argument("second", metavar="B", help="the same kind as A")
    add_results(compare)
    compare.add_argument("--protocol", help="the protocol, when comparing two methods")
    compare.add_argument("--bits", type=int, help="the code length, when comparing two methods")
    compare.add_argument(
        "--metric",
        default="map",
        help="map (the protocol's mAP@K, default), map_tie, wap or a metric key such as "
        "precision@r2 or ndcg@1000: any metric the evaluator scores per query",
    )
    compare.set_defaults(handler=commands.command_compare)


def add_reproduce(commands_: argparse._SubParsersAction) -> None:
    reproduce = commands_.add_parser(
        "reproduce",
        help="run a paper's whole grid and write its tables, figures and a README",
        description="Runs every method x bits of the paper (and HashNet, CSQ and HybridHash) on "
        "each of its data sets that can be found, the seed spread of DPSH and DMRH at 48 bits and "
        "DMRH's regions sweep, into <results>/records; writes the paper-layout table, figures and "
        "a README to <results>/reproduce-<paper>/. Resumable; the same grid on a CPU or a GPU.",
    )
    reproduce.add_argument("paper", choices=["dmrh"], help="the paper to reproduce")
    add_results(reproduce)
    add_seeds(reproduce, (0, 1, 2), "0,1,2: the first for every cell, all for the seed spread")
    add_data_root(reproduce)
    reproduce.set_defaults(handler=commands.command_reproduce)


def add_figure(commands_: argparse._SubParsersAction) -> None:
    figure = commands_.add_parser(
        "figure", help="draw a figure from records: regions, convergence or pr (PNG and PDF)"
    )
    figure.add_argument(
        "kind",
        choices=["regions", "convergence", "pr"],
        help="regions: mAP against N; convergence: loss and validation mAP "
        "against epoch; pr: precision-recall per method",
    )
    add_results(figure)
    figure.add_argument(
        "--bits", type=int, help="the code length to draw (default: every one; pr: 64)"
    )
    figure.add_argument("--protocols", type=name_list, help="only these protocols' records")
    figure.add_argument(
        "--variants",
        action="store_true",
        help="draw the runs with settings other than their method's defaults (sweeps, older "
        "recipes) instead of the defaults' runs (regions draws both)",
    )
    figure.add_argument(
        "--output", type=Path, help="file stem to write (default: <results>/figures/<kind>)"
    )
    figure.set_defaults(handler=commands.command_figure)


def add_evaluate(commands_: argparse._SubParsersAction) -> None:
    evaluate = commands_.add_parser(
        "evaluate",
        help="evaluate codes from anywhere: an .npz with query/database codes and labels",
        description="Reads query_codes, database_codes (n x bits, {0,1} or {-1,+1}), "
        "query_labels and database_labels (class ids or multi-hot) from an .npz file. "
        "Multi-hot labels also give the graded metrics (relevance: the number of shared "
        "labels): weighted mAP@K, NDCG@N and ACG@N.",
    )
    evaluate.add_argument("codes", type=Path, metavar="CODES.npz")
    evaluate.add_argument(
        "--topk",
        type=topk_value,
        default=5000,
        help="K of mAP@K (and weighted mAP@K): a positive integer or 'all' (default: 5000)",
    )
    evaluate.add_argument(
        "--graded-at",
        type=int_list,
        default=GRADED_AT,
        help="the depths N of NDCG@N and ACG@N on multi-hot labels (default: "
        f"{','.join(map(str, GRADED_AT))})",
    )
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.set_defaults(handler=commands.command_evaluate)


def add_report(commands_: argparse._SubParsersAction) -> None:
    report = commands_.add_parser(
        "report",
        help="write one self-contained HTML page: tables, figures, code diagnostics, gallery",
        description="Reads the records, the codes kept beside them and (for the gallery's "
        "images) the data sets; the page opens offline, everything inlined.",
    )
    add_results(report)
    report.add_argument(
        "--output", type=Path, help="the HTML file to write (default: <results>/report.html)"
    )
    add_compare_paper(report)
    report.add_argument(
        "--bits", type=int, help="code length of the figures and gallery (default: the most run)"
    )
    report.add_argument(
        "--queries", type=int, default=5, help="queries in the retrieval gallery (default: 5)"
    )
    report.add_argument(
        "--gallery-seed", type=int, default=0, help="seed of the gallery's query sample"
    )
    add_data_root(report)
    report.set_defaults(handler=commands.command_report)
