"""The handlers of the ``hashbench`` sub-commands; heavy imports wait until one runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from hashbench.cli.options import DEFAULT_RESULTS
from hashbench.errors import HashbenchError, RunsFailed

#: What ``hashbench run`` does when neither a flag nor a --config file says otherwise.
RUN_DEFAULTS: dict[str, Any] = {
    "methods": ("lsh", "itq"),
    "dataset": "digits",
    "protocol": None,
    "bits": None,
    "seeds": (0,),
    "feature": None,
    "image_size": None,
    "data_root": None,
    "results": DEFAULT_RESULTS,
    "force": False,
}


def run_options(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The run's options and per-method settings: flags, else the --config file, else defaults."""
    from hashbench.cli.run_config import read_run_config

    given = read_run_config(args.config) if args.config else {}

    def pick(key: str, default: Any) -> Any:
        flag, configured = getattr(args, key), given.get(key)
        return flag if flag is not None else configured if configured is not None else default

    options = {key: pick(key, default) for key, default in RUN_DEFAULTS.items()}
    params: dict[str, dict[str, Any]] = {m: dict(s) for m, s in given.get("set", {}).items()}
    for method, key, value in args.settings:
        params.setdefault(method, {})[key] = value
    return options, params


def command_run(args: argparse.Namespace) -> None:
    from hashbench.experiment.claims import HEARTBEAT_S
    from hashbench.experiment.executors import SlurmOptions, run_grid
    from hashbench.experiment.provenance import command_line
    from hashbench.experiment.runner import RunPlan
    from hashbench.fileio import atomic_write_text
    from hashbench.reporting.runs import collect_runs
    from hashbench.reporting.significance import summarise_runs
    from hashbench.reporting.tables import TableFilter, render

    if args.claim_timeout < 2 * HEARTBEAT_S:
        raise HashbenchError(
            f"--claim-timeout must be at least {2 * HEARTBEAT_S:.0f} s (two heartbeats), "
            f"got {args.claim_timeout:g}: a shorter one takes live runs for stale"
        )
    options, params = run_options(args)
    results: Path = options["results"]
    plan = RunPlan(
        methods=tuple(options["methods"]),
        dataset=options["dataset"],
        out_dir=results,
        protocol=options["protocol"],
        bits=options["bits"],
        seeds=tuple(options["seeds"]),
        feature=options["feature"],
        params=params,
        data_root=tuple(options["data_root"]) if options["data_root"] else None,
        image_size=options["image_size"],
        force=options["force"],
        command=command_line(args.arguments),
        claim_timeout=args.claim_timeout,
    )
    slurm = SlurmOptions(
        partition=args.slurm_partition,
        time_min=args.slurm_time,
        gpus_per_task=args.slurm_gpus_per_task,
        cpus_per_task=args.slurm_cpus_per_task,
        mem=args.slurm_mem,
        additional=dict(args.slurm_extra),
        logs=args.slurm_logs,
    )
    runner, outcomes = run_grid(plan, args.executor, args.jobs, slurm)
    if any(runner.records_dir.rglob("*.json")):  # none yet when every run went to SLURM
        runs = collect_runs(results)
        summary = summarise_runs(runs)
        for fmt, suffix in (("csv", "csv"), ("markdown", "md"), ("latex", "tex")):
            atomic_write_text(results / f"table.{suffix}", render(summary, fmt))
        # What this command ran, not everything the folder holds.
        asked = TableFilter(plan.methods, (runner.protocol.name,), runner.bits)
        print(render(summarise_runs(runs, keep=asked), "markdown"), end="")
    count = {s: sum(o.status == s for o in outcomes) for s in
             ("done", "recorded", "elsewhere", "submitted", "failed")}  # fmt: skip
    others = f", {count['elsewhere']} held by other workers" if count["elsewhere"] else ""
    queued = f", {count['submitted']} submitted to SLURM" if count["submitted"] else ""
    print(
        f"\n{count['done']} run(s) done, {count['recorded']} already recorded{others}{queued}; "
        f"records in {runner.records_dir}, tables in {results}/table.{{csv,md,tex}}; "
        "`hashbench status` shows the grid"
    )
    failed = [outcome.failure for outcome in outcomes if outcome.status == "failed"]
    if failed:
        raise RunsFailed(failed)


def command_status(args: argparse.Namespace) -> None:
    from hashbench.experiment.status import grid_cells, render_status

    print(render_status(grid_cells(args.results, args.claim_timeout)), end="")


def command_list(args: argparse.Namespace) -> None:
    if args.method:
        list_method(args.method)
        return
    from hashbench.data.loading import list_datasets
    from hashbench.features.extract import default_feature, list_features
    from hashbench.registry import REGISTRY
    from hashbench.splits.protocol import list_protocols

    print("Methods:")
    for name in REGISTRY.names():
        cls = REGISTRY.declaration(name)
        kind = f"{cls.input_kind}, {'supervised' if cls.supervised else 'unsupervised'}"
        print(f"  {name:<10} {kind:<24} {summary(cls)}  [{REGISTRY.origin(name)}]")
    print("Data sets (and the feature non-deep methods take on them by default):")
    for name, description in list_datasets():
        print(f"  {name:<10} {description} [{default_feature(name)}]")
    print("Protocols:")
    for protocol in list_protocols():
        print(f"  {protocol.name:<14} {protocol.description}")
    print("Features:")
    for feature in list_features():
        print(f"  {feature.name:<10} {feature.description}")


def list_method(name: str) -> None:
    """A method's settable parameters with their defaults and what each may be, as ``--set``
    takes them."""
    from hashbench.registry import REGISTRY

    cls = REGISTRY.declaration(name)
    print(f"{name}: {summary(cls) or cls.__name__}  [{REGISTRY.origin(name)}]")
    print(f"  {cls.input_kind}, {'supervised' if cls.supervised else 'unsupervised'}")
    params = cls.default_params(bits=16)
    declared = cls.declared_parameters()
    defaults = {
        key: json.dumps(value, separators=(",", ":"))
        for key, value in params.items()
        if key not in ("bits", "seed")
    }
    print(f"Parameters (hashbench run --set {name}.KEY=VALUE):" if defaults else "No parameters.")
    key_column = max((len(key) for key in defaults), default=0)
    value_column = max((len(value) for value in defaults.values()), default=0)
    for key, value in defaults.items():
        print(f"  {key:<{key_column}}  {value:<{value_column}}  {declared[key].describe()}")


def summary(cls: type) -> str:
    """The first line of a class's docstring."""
    lines = (cls.__doc__ or "").strip().splitlines()
    return lines[0] if lines else ""


def command_table(args: argparse.Namespace) -> None:
    from hashbench.fileio import atomic_write_text
    from hashbench.reporting.runs import collect_runs
    from hashbench.reporting.significance import summarise_runs
    from hashbench.reporting.tables import TableFilter, compare_with_paper, render

    keep = TableFilter(args.methods, args.protocols, args.bits, args.defaults_only)
    summary = summarise_runs(collect_runs(args.results), args.metric, keep)
    if args.compare_paper:
        summary = compare_with_paper(summary)
    text = render(summary, args.format)
    if args.output:
        atomic_write_text(args.output, text)
    else:
        print(text, end="")


def command_reproduce(args: argparse.Namespace) -> None:
    from hashbench.experiment.reproduce import reproduce

    data_root = tuple(args.data_root) if args.data_root else None
    readme = reproduce(args.paper, args.results, args.seeds, data_root, args.arguments)
    print(f"wrote {readme} and the tables and figures beside it")


def records_in(results: Path) -> list[dict[str, Any]]:
    from hashbench.records import iter_records, records_folder

    return list(iter_records(records_folder(results)))


def command_figure(args: argparse.Namespace) -> None:
    from hashbench.records import variant
    from hashbench.reporting.figures import make_figure

    stem = args.output or args.results / "figures" / args.kind
    records = [
        record
        for record in records_in(args.results)
        if (args.protocols is None or record["protocol"]["name"] in args.protocols)
        # The regions figure is a sweep of settings: it draws variants by nature.
        and (args.kind == "regions" or bool(variant(record)) == args.variants)
    ]
    if not records:
        which = f" of protocol {', '.join(args.protocols)}" if args.protocols else ""
        kind = " with settings other than the defaults" if args.variants else ""
        raise HashbenchError(f"no records{which}{kind} to draw in {args.results}")
    for path in make_figure(args.kind, records, stem, args.bits):
        print(path)


def command_evaluate(args: argparse.Namespace) -> None:
    from hashbench.evaluation.codes_file import load_codes
    from hashbench.evaluation.evaluator import evaluate

    bundle = load_codes(args.codes)
    result = evaluate(
        bundle.query_codes,
        bundle.database_codes,
        bundle.query_labels,
        bundle.database_labels,
        topk=args.topk,
        graded_at=args.graded_at,
    )
    if args.json:
        print(json.dumps({"metrics": result.metrics, "curves": result.curves}, indent=1))
    else:
        for key, value in result.metrics.items():
            print(f"{key:<16} {value:.6f}")


def command_report(args: argparse.Namespace) -> None:
    from hashbench.fileio import atomic_write_text
    from hashbench.reporting.report import ReportOptions, build_report

    if args.queries < 1:
        raise HashbenchError(f"--queries must be at least 1, got {args.queries}")
    options = ReportOptions(
        compare_paper=args.compare_paper,
        bits=args.bits,
        queries=args.queries,
        gallery_seed=args.gallery_seed,
        data_root=tuple(args.data_root) if args.data_root else None,
    )
    page = build_report(args.results, options)
    output = args.output or args.results / "report.html"
    atomic_write_text(output, page)
    print(f"wrote {output} ({len(page.encode()) / 1e6:.1f} MB); open it in a browser")


def command_compare(args: argparse.Namespace) -> None:
    from hashbench.reporting.compare import compare

    text = compare(args.results, args.first, args.second, args.protocol, args.bits, args.metric)
    print(text, end="")
