"""The ``paperlib`` command: list, reproduce, verify, report, new."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from .repro.registry import PROFILES, ReproError, get_paper, papers


def _parse_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise ReproError(f"-p takes KEY=VALUE (e.g. -p seeds=[0,1,2]), got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def per_paper_overrides(selected: list, texts: list[str]) -> dict[str, dict[str, Any]]:
    """``-p KEY=VALUE`` for every selected paper that declares KEY, ``-p PAPER.KEY=VALUE`` for one.

    A KEY no selected paper declares is an error (with the close names); with several papers, a KEY
    only some declare goes to those (so ``all -p epochs=2`` sets the papers that train for epochs).
    """
    out: dict[str, dict[str, Any]] = {p.slug: {} for p in selected}
    by_slug = {p.slug: p for p in selected}
    for text in texts:
        key, value = _parse_override(text)
        target, _, name = key.rpartition(".")
        if target:
            if target not in by_slug:
                get_paper(target)  # an unknown paper: the usual error with its suggestion
                raise ReproError(f"-p {key}: {target} is not among the papers being run ({', '.join(by_slug)})")
            if name not in by_slug[target].parameters:
                raise ReproError(by_slug[target].unknown_parameter_message(name))
            out[target][name] = value
            continue
        having = [p for p in selected if key in p.parameters]
        if not having:
            raise ReproError(selected[0].unknown_parameter_message(key) if len(selected) == 1 else
                             f"-p {key}: no paper among {', '.join(by_slug)} has a parameter {key!r} "
                             "(see `paperlib list PAPER --params`)")
        for p in having:
            out[p.slug][key] = value
        skipped = [p.slug for p in selected if p not in having]
        if skipped:
            print(f"paperlib: -p {key} applies to {', '.join(p.slug for p in having)} "
                  f"(not a parameter of {', '.join(skipped)})", file=sys.stderr)
    return out


def cmd_list(args: argparse.Namespace) -> int:
    for slug in args.papers:
        get_paper(slug)  # an unknown name is an error with a suggestion, not an empty listing
    for slug, paper in papers().items():
        if args.papers and slug not in args.papers:
            continue
        print(f"{slug}: {paper.title}")
        for prof in paper.profiles:
            desc = paper.profile_descriptions.get(prof, "")
            print(f"  profile {prof:<6} {desc}")
            res = paper.resources(prof)
            if res:
                print(f"  {'':14} needs {res.get('gpus', 0)} GPU, {res.get('cpus', '?')} CPU cores, "
                      f"{res.get('mem_gb', '?')} GB, about {res.get('hours', '?')} h")
        for item in paper.meta.get("data", []):
            print(f"  data    {item}")
        for claim in paper.claims:
            where = f" [{claim['where']}]" if claim.get("where") else ""
            print(f"  claim {claim['id']}{where}: {' '.join(str(claim['statement']).split())}")
        if args.params:
            print("  parameters:")
            for p in paper.parameters.values():
                print(f"    {p.name}: {p.type_name} = {p.default!r}  # {p.comment}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .repro.runner import reproduce

    slugs = list(papers()) if args.papers == ["all"] else args.papers
    selected = [get_paper(s) for s in slugs]
    if args.profile not in PROFILES:  # a named profile (e.g. lm-smoke): every selected paper must declare it
        lacking = [p.slug for p in selected if args.profile not in p.profiles]
        if lacking:
            named = sorted({n for p in selected for n in p.profiles if n not in PROFILES})
            raise ReproError(f"unknown profile {args.profile!r} for {', '.join(lacking)}; valid: {', '.join(PROFILES)}"
                             + (f", or the named profile(s) {', '.join(named)} of their profiles.yaml" if named else ""))
    overrides = per_paper_overrides(selected, args.param)
    out = Path(args.out).resolve() if args.out else None
    slurm = {}
    for item in args.slurm:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ReproError(f"--slurm {item!r}: expected KEY=VALUE (passed to sbatch as --KEY=VALUE)")
        slurm[key.strip().replace("_", "-")] = value.strip()
    if args.slurm_partition:
        slurm["partition"] = args.slurm_partition
    if slurm and args.executor != "slurm":
        raise ReproError("--slurm-partition / --slurm options need --executor slurm")
    seed_cache = Path(args.seed_cache).resolve() if args.seed_cache else None
    if args.executor != "local" or args.split:
        if args.jobs != 1:
            raise ReproError("--jobs runs papers side by side on this machine; with --executor / --split every paper "
                             "(or seed) is a job of its own already")
        from .repro.cluster import submit
        from .repro.runner import prepare
        if args.resume:
            raise ReproError("--resume is for local runs; jobs of --split seeds always reuse the finished seeds")
        plans = prepare(selected, args.profile, overrides, out, allow_dirty=args.allow_dirty)
        return submit(plans, args.profile, out, args.executor, args.split, slurm, seed_cache)
    return reproduce(selected, args.profile, overrides, out, stream=not args.quiet, allow_dirty=args.allow_dirty,
                     resume=args.resume, seed_cache=seed_cache, jobs=args.jobs)


def cmd_check(args: argparse.Namespace) -> int:
    from .repro.check import check

    slugs = list(papers()) if args.papers == ["all"] else args.papers
    selected = [get_paper(s) for s in slugs]
    return check(selected, args.profile, per_paper_overrides(selected, args.param), jobs=args.jobs)


def cmd_verify(args: argparse.Namespace) -> int:
    from .repro.verify import verify

    slugs = list(papers()) if args.papers == ["all"] else args.papers
    selected = [get_paper(s) for s in slugs]
    return verify(selected, args.profile, update=args.update, allow_dirty=args.allow_dirty, stream=args.stream,
                  rtol=args.rel, atol=args.abs)


def cmd_new(args: argparse.Namespace) -> int:
    from .repro.scaffold import NEXT_STEPS, new_paper

    written = new_paper(args.slug, args.title)
    for path in written:
        print(f"wrote {path}")
    print(NEXT_STEPS.format(slug=args.slug))
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    from .repro.lab import launch, working_copy

    paper = get_paper(args.paper)
    overrides = dict(_parse_override(p) for p in args.param)
    path = working_copy(paper, args.profile, overrides, fresh=args.fresh,
                        folder=Path(args.dir).resolve() if args.dir else None)
    print(f"paperlib: working copy {path} ({args.profile} profile; the source {paper.notebook.name} is never "
          "edited from JupyterLab)", file=sys.stderr)
    if args.no_launch:
        print(path)
        return 0
    return launch(path, args.lab_args)


def cmd_report(args: argparse.Namespace) -> int:
    from .repro.report import reevaluate, result_paths, write_report

    if args.reevaluate is not None:
        slugs = args.reevaluate or list(papers())
        for slug in slugs:
            get_paper(slug)  # an unknown paper is an error, not an empty loop
            for path in result_paths(slug):
                res = reevaluate(path)
                moved = ", ".join(f"{c['id']}: {res['previous_verdicts'].get(c['id'], 'new')} -> {c['verdict']}"
                                  for c in res["claims"])
                print(f"{path.relative_to(path.parents[4])}: {moved}")
    print(f"wrote {write_report()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="paperlib", description="Reproduce ML papers end to end.")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="papers, their profiles and claims")
    p.add_argument("papers", nargs="*", help="only these papers")
    p.add_argument("--params", action="store_true", help="also list each notebook's parameters")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("reproduce", help="run papers' notebooks and check their claims")
    p.add_argument("papers", nargs="+", metavar="PAPER", help="paper slugs, or 'all'")
    p.add_argument("--profile", default="quick",
                   help="smoke | quick | full | a paper's named profile, e.g. lm-smoke (default: quick)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a notebook parameter (value parsed as YAML: 3, 0.1, [0,1], text); "
                        "PAPER.KEY=VALUE sets it for one paper only")
    p.add_argument("--out", metavar="DIR", help="write everything under DIR/<paper>/ instead of the repository")
    p.add_argument("-q", "--quiet", action="store_true", help="do not stream the notebook's progress")
    p.add_argument("--allow-dirty", action="store_true",
                   help="run a quick or full profile into the repository although the checkout has uncommitted "
                        "changes (refused otherwise; the results then say dirty: true)")
    p.add_argument("--resume", action="store_true",
                   help="reuse the per-seed results an interrupted run of the same code and parameters left")
    p.add_argument("--executor", default="local", choices=("local", "slurm", "submitit-local"),
                   help="local (default): run here; slurm: submit through submitit; submitit-local: the same jobs "
                        "as local processes")
    p.add_argument("--split", choices=("seeds",), help="seeds: one job per seed, then one job over all seeds")
    p.add_argument("--slurm-partition", metavar="P", help="SLURM partition")
    p.add_argument("--slurm", action="append", default=[], metavar="KEY=VALUE",
                   help="any other sbatch option, e.g. --slurm account=lab --slurm qos=high")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                   help="run N papers at the same time, each notebook in its own process (local runs; default 1)")
    p.add_argument("--seed-cache", metavar="DIR",
                   help="the per-seed results folder (a shared filesystem on a cluster; default: the cache)")
    p.set_defaults(func=cmd_reproduce)
    p = sub.add_parser("check", help="preflight: run a profile's path on its smallest slice, name what is missing")
    p.add_argument("papers", nargs="+", metavar="PAPER", help="paper slugs, or 'all'")
    p.add_argument("--profile", default="full", help="the profile whose path to check (default: full)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="override a parameter")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="check N papers at the same time (default 1)")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("lab", help="open a paper in JupyterLab on a working copy (the source stays untouched)")
    p.add_argument("paper", metavar="PAPER")
    p.add_argument("--profile", default="quick", help="whose parameters the copy starts with (default: quick)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="override a parameter")
    p.add_argument("--fresh", action="store_true", help="start a new copy (the old one is kept beside it)")
    p.add_argument("--no-launch", action="store_true", help="only make the working copy and print its path")
    p.add_argument("--dir", metavar="DIR", help="where the working copy lives (default: runs/PAPER/lab/)")
    p.set_defaults(func=cmd_lab, lab_args=[])  # JupyterLab's own arguments go after --
    p = sub.add_parser("verify", help="rerun a profile and compare its per-seed measurements with stored ones",
                       description="smoke (default): rerun the smoke profile and compare its measurements with "
                                   "tests/golden/<paper>.json (--update rewrites that file from the rerun). quick: "
                                   "rerun the quick profile and compare every per-seed measurement with the "
                                   "committed reproductions/<paper>/results/quick/results.json. Reruns go to a "
                                   "temporary folder; exit 0 when everything matches within the tolerance.")
    p.add_argument("papers", nargs="+", metavar="PAPER", help="paper slugs, or 'all'")
    p.add_argument("--profile", default="smoke", choices=("smoke", "quick"), help="smoke (default) | quick")
    p.add_argument("--update", action="store_true", help="rewrite tests/golden/<paper>.json from the smoke rerun")
    p.add_argument("--allow-dirty", action="store_true", help="--update even from a checkout with uncommitted changes")
    p.add_argument("--rel", type=float, metavar="R", help="relative tolerance (default: the golden file's)")
    p.add_argument("--abs", type=float, metavar="A", help="absolute tolerance (default: the golden file's)")
    p.add_argument("--stream", action="store_true", help="stream the notebook's progress")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("report", help="rebuild reproductions/README.md from committed results")
    p.add_argument("--reevaluate", nargs="*", metavar="PAPER",
                   help="first recompute the committed results' verdicts from their recorded measurements with "
                        "the current claims.yaml (all papers when none is named)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("new", help="write the scaffold of a new paper (package, notebook, yaml files, REPORT, test)")
    p.add_argument("slug", help="the paper's short name: a lowercase Python identifier (its package paperlib.<slug>)")
    p.add_argument("--title", help="the paper's title")
    p.set_defaults(func=cmd_new)
    return ap


def _skip_iri_grammars() -> None:
    """Keep jsonschema from building its IRI grammars in this process (about 1 s of every command's start).

    nbformat and papermill import jsonschema, whose format checkers import the optional ``rfc3987_syntax``
    when it is installed (jupyter-events pulls it in); that module compiles 38 lark grammars at import, for an
    ``iri`` format check that notebook validation never uses. Marking the module absent here (the command's
    own process only; JupyterLab and the kernels are other processes) skips that check and nothing else.
    """
    sys.modules.setdefault("rfc3987_syntax", None)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _skip_iri_grammars()
    passthrough: list[str] = []
    if argv[:1] == ["lab"] and "--" in argv:  # paperlib lab PAPER [...] -- --no-browser --port 8890
        i = argv.index("--")
        argv, passthrough = argv[:i], argv[i + 1:]
    args = build_parser().parse_args(argv)
    if passthrough:
        args.lab_args = passthrough
    try:
        return args.func(args)
    except ReproError as err:
        print(f"paperlib: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
