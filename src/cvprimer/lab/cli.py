"""The ``cvprimer lab`` verb: argument parsing and terminal output only (registered by :mod:`cvprimer.cli`).

    cvprimer lab                       run every experiment in quick mode, then write the report
    cvprimer lab list [--json]         what the lab holds
    cvprimer lab show ID               one experiment's claim, figures and verdict (from the cache)
    cvprimer lab run [SEL ...] [--all] [--quick | --full] [--seed N] [--seeds K] [--jobs J] [--out DIR] [--force]
    mpiexec -n N cvprimer lab run ...  the (experiment, seed) tasks spread over N MPI ranks; rank 0 writes
    cvprimer lab report [--out DIR] [--lang en|zh]
    cvprimer lab notebook ID [--out FILE.ipynb] [--full] [--lang en|zh]

User errors (unknown selectors, an output folder that is a file or unwritable) raise
:class:`~cvprimer.errors.UserError`, which the command line prints as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

from cvprimer.argtypes import number, positive_int, seed_int
from cvprimer.errors import UserError, require_all

DEFAULT_OUT = "lab-report"
DEFAULT_SEEDS = 3
# Each seed re-runs every stochastic experiment, so the time grows linearly with the seeds; 100 seeds resolve
# the seeds' agreement to 1%, so more buy nothing but time (and a typo such as 10000 would run for days).
MAX_SEEDS = 100
# what running experiments needs (the `lab` extra; tqdm and threadpoolctl only improve it): checked before any
# work, so a base install gets one line naming the extra rather than one failure per experiment
NEEDS = ("sklearn", "mlxtend", "PIL", "matplotlib", "scipy", "skimage")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("lab", help="run the experiments that test the source document's questions and write "
                                   "the report",
                       description="Without a sub-command: run every experiment in quick mode, then write the report.")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help="output folder (default %(default)s)")
    p.add_argument("--lang", default="en", choices=("en", "zh"), help="language of index.html (default en)")
    lab = p.add_subparsers(dest="lab_cmd", metavar="{list,show,run,report,notebook}")
    ls = lab.add_parser("list", help="list the experiments and pages")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    sh = lab.add_parser("show", help="one experiment's claim, figures and verdict, from its cached result")
    sh.add_argument("id", help="experiment id or question (e.g. q19)")
    sh.add_argument("--out", default=argparse.SUPPRESS, metavar="DIR")
    sh.add_argument("--lang", default=argparse.SUPPRESS, choices=("en", "zh"))
    rn = lab.add_parser("run", help="run experiments (cached results of the same code, mode and seeds are kept)")
    rn.add_argument("select", nargs="*", metavar="ID|qN|TOPIC", help="what to run (or --all)")
    rn.add_argument("--all", action="store_true", help="every experiment")
    mode = rn.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="quick", action="store_true", default=True,
                      help="less data or fewer steps (default)")
    mode.add_argument("--full", dest="quick", action="store_false", help="more data and steps")
    rn.add_argument("--seed", type=seed_int, default=0, help="first seed (default 0)")
    rn.add_argument("--seeds", type=number(1, MAX_SEEDS, hi_closed=True, integer=True), default=DEFAULT_SEEDS,
                    help="seeds per stochastic experiment, in either mode (default %(default)s, at most "
                         f"{MAX_SEEDS}: each seed re-runs every stochastic experiment, so time grows linearly, and "
                         f"{MAX_SEEDS} already resolve the seeds' agreement to 1%%); each seed decides and a split "
                         "verdict is 'unsettled'")
    rn.add_argument("--jobs", type=positive_int, default=None,
                    help="worker processes for the (experiment, seed) tasks (default: the usable cores); "
                         "ignored under mpiexec, where the MPI ranks share the tasks")
    rn.add_argument("--out", default=argparse.SUPPRESS, metavar="DIR")
    rn.add_argument("--force", action="store_true", help="re-run even when a cached result matches")
    rp = lab.add_parser("report", help="write DIR/index.html and DIR/results.json from the cached results")
    rp.add_argument("--out", default=argparse.SUPPRESS, metavar="DIR")
    rp.add_argument("--lang", default=argparse.SUPPRESS, choices=("en", "zh"))
    nb = lab.add_parser("notebook", help="write a Jupyter notebook that runs one experiment",
                        description="Write a Jupyter notebook (nbformat v4) that runs one experiment with its "
                                    "parameters (mode, seed, thresholds) as variables and shows its figures, "
                                    "plots, verdict and takeaway. An existing file is replaced only when cvprimer "
                                    "wrote it.")
    nb.add_argument("id", help="experiment id or question (e.g. q19)")
    nb.add_argument("--out", dest="nb_out", default=None, metavar="FILE.ipynb",
                    help="where to write it (default: ID.ipynb in the current folder)")
    nb.add_argument("--full", action="store_true", help="set the notebook to the full size (default quick)")
    nb.add_argument("--lang", dest="nb_lang", default=None, choices=("en", "zh"),
                    help="texts in one language (default: both)")


def _check_out(out: str, create: bool) -> str:
    """The output folder exists (or is created) and is writable; else a one-line user error."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f"--out {out!r} is a file, not a folder; choose another path")
    if not os.path.isdir(out):
        if not create:
            raise UserError(f"--out {out!r} does not exist; run `cvprimer lab run --all --out {out}` first")
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create the output folder {out!r}: {e.strerror or e}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as e:
        raise UserError(f"the output folder {out!r} is not writable: {e.strerror or e}") from None
    return out


def _select(args: argparse.Namespace) -> list[Any]:
    from cvprimer.lab.registry import SelectionError, all_experiments, select

    if getattr(args, "all", False) or not getattr(args, "select", None):
        if getattr(args, "select", None):
            raise UserError("give either --all or experiment selectors, not both")
        if not getattr(args, "all", False) and getattr(args, "lab_cmd", None) == "run":
            raise UserError("nothing selected: name experiments (ids, qN or topics) or pass --all; "
                            "`cvprimer lab list` shows them")
        return list(all_experiments())
    try:
        return select(args.select)
    except SelectionError as e:
        raise UserError(str(e)) from None


def _title(rec_or_exp: Any, lang: str = "en") -> str:
    if isinstance(rec_or_exp, dict):
        return (rec_or_exp.get("title") or {}).get(lang, "")
    return rec_or_exp.t("title", lang)


def _print_row(rec: dict[str, Any], cached: bool) -> None:
    """One experiment's line, through ``tqdm.write`` so a progress bar on the terminal is cleared first and
    redrawn below it (never overwritten); piped, the same line is simply printed."""
    qs = ",".join(str(q) for q in rec["questions"])
    verdict = rec["verdict"] or ("ERROR" if rec.get("status") == "error" else "page")
    secs = "cached" if cached else f"{rec.get('seconds', 0):.1f}s"
    line = f"  {rec['id']:<30} q{qs:<8} {verdict:<10} {secs:>8}"
    try:
        from tqdm import tqdm
    except ImportError:  # no tqdm, no bar to keep clear of
        print(line, flush=True)
        return
    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()


def _comm() -> Any:
    """The MPI communicator when started by ``mpiexec`` with several ranks, else None (one process)."""
    from cvprimer.distributed.comm import init, launched_by_mpi

    if not launched_by_mpi():
        return None
    comm = init()
    return comm if comm.world_size > 1 else None


def cmd_run(args: argparse.Namespace, exps: list[Any], comm: Any = None) -> list[dict[str, Any]]:
    from cvprimer.lab.experiment import OUTCOMES
    from cvprimer.lab.runner import run_many, usable_cores

    main = comm is None or comm.is_main
    out = _check_out(args.out, create=True) if main else args.out
    jobs = args.jobs if args.jobs is not None else usable_cores()
    mode = "quick" if args.quick else "full"
    where = f"{comm.world_size} MPI ranks" if comm is not None else f"{jobs} process{'es' if jobs > 1 else ''}"
    if main:
        print(f"cvprimer lab: {len(exps)} experiment(s), {mode}, seeds {args.seed}..{args.seed + args.seeds - 1}, "
              f"{where}, results in {out}/runs", flush=True)
    t0 = time.perf_counter()
    done: list[dict[str, Any]] = []

    def on_done(rec: dict[str, Any], cached: bool) -> None:
        done.append(rec)
        _print_row(rec, cached)

    try:
        run_many(exps, out, quick=args.quick, seed=args.seed, seeds=args.seeds, force=args.force, jobs=jobs,
                 on_done=on_done, comm=comm, show_progress=main)
    except KeyboardInterrupt:  # the CLI boundary prints this line and exits 130, as for every Ctrl-C
        raise KeyboardInterrupt(f"interrupted after {len(done)} of {len(exps)} experiments; the finished results "
                                f"are kept in {out}/runs and the next run continues from them") from None
    if not main:
        return done
    failed = [r["id"] for r in done if r.get("status") == "error"]
    counts = {v: sum(r.get("verdict") == v for r in done) for v in OUTCOMES}
    print(f"done in {time.perf_counter() - t0:.1f}s: " + ", ".join(f"{n} {v}" for v, n in counts.items())
          + f", {sum(r.get('kind') == 'page' for r in done)} pages" + (f", {len(failed)} FAILED" if failed else ""))
    for r in done:
        if r.get("status") == "error":
            where = os.path.join(out, "runs", r["id"], r["mode"], "result.json")
            print(f"  {r['id']}: {r.get('error')} (traceback in {where})", file=sys.stderr)
    return done


def _refuse_foreign(out: str, lang: str) -> None:
    """A one-line user error when ``out`` holds an index page or results.json that cvprimer did not write."""
    from cvprimer.lab.report import page_names
    from cvprimer.lab.results import refuse_foreign

    try:
        refuse_foreign(out, ["results.json", *page_names(lang)])
    except FileExistsError as e:
        raise UserError(str(e)) from None


def cmd_report(out: str, lang: str) -> tuple[str, str]:
    from cvprimer.lab.report import write_report
    from cvprimer.lab.results import collect, write_results

    _check_out(out, create=False)
    _refuse_foreign(out, lang)
    results = collect(out)
    if not results["experiments"]:
        raise UserError(f"no results in {out!r}; run `cvprimer lab run --all --out {out}` first")
    json_path = write_results(out, results)
    html_path = write_report(out, results, lang)
    return html_path, json_path


def update_report(out: str) -> str:
    """After ``lab run``: re-render the report in ``out`` when it has one (in the language of its ``index.html``),
    else say that no report was written and the command that writes it. Returns the line printed."""
    import shlex

    from cvprimer.lab.report import page_lang

    index = os.path.join(out, "index.html")
    how = f"`cvprimer lab report --out {shlex.quote(out)}`"
    if not os.path.exists(index):
        return f"report not updated: {out} has no report yet; {how} writes it"
    lang = page_lang(index) or "en"
    try:
        html_path, _ = cmd_report(out, lang)
    except UserError as e:
        return f"report not updated ({e}); {how} writes it"
    return f"report updated: {os.path.abspath(html_path)}"


def _list_topic(e: Any) -> str:
    """The topic an experiment is listed under: its first question's, as the report groups it."""
    from cvprimer.lab.questions import QUESTIONS

    return QUESTIONS[e.questions[0]].topic


def cmd_list(as_json: bool) -> None:
    """Every experiment and page, grouped under the report's topic headings (questions.py ``TOPICS``)."""
    from cvprimer.lab.questions import TOPICS
    from cvprimer.lab.registry import all_experiments

    exps = all_experiments()
    if as_json:
        print(json.dumps([{"id": e.id, "questions": list(e.questions), "topic": _list_topic(e),
                           "topic_label": dict(TOPICS[_list_topic(e)]), "kind": e.kind,
                           "stochastic": e.stochastic, "title": {"en": e.t("title"), "zh": e.t("title", "zh")},
                           "command": e.command()} for e in exps], ensure_ascii=False, indent=1))
        return
    for key, label in TOPICS.items():
        mine = [e for e in exps if _list_topic(e) == key]
        if mine:
            print(f"{label['en']} ({key})")
        for e in mine:
            qs = ",".join(str(q) for q in e.questions)
            print(f"  {e.id:<30} q{qs:<8} {e.kind:<10} {e.t('title')}")
    answered = sorted({q for e in exps for q in e.questions})
    from cvprimer.lab.questions import QUESTIONS

    print(f"{len(exps)} experiments and pages answering {len(answered)} of {len(QUESTIONS)} questions")


def _say(text: str) -> None:
    """Print ``text``, replacing what the terminal's encoding cannot show (``PYTHONIOENCODING=ascii`` and a
    Chinese page print ``?`` rather than crash)."""
    enc = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        print(text)
    except UnicodeEncodeError:
        print(text.encode(enc, errors="replace").decode(enc, errors="replace"))


def cmd_show(out: str, sel: str, lang: str) -> None:
    """Print one experiment's texts and its cached result (a malformed record reads as no result: see
    :func:`cvprimer.lab.runner.load_record`)."""
    from cvprimer.lab.runner import load_record

    def text(d: Any) -> str:
        return d if isinstance(d, str) else str((d or {}).get(lang) or (d or {}).get("en") or "")

    exps = _select(argparse.Namespace(select=[sel], all=False, lab_cmd="show"))
    for e in exps:
        rec = load_record(out, e.id)
        _say(f"{e.id} (question {', '.join(map(str, e.questions))}, {e.topic})\n  {e.t('title', lang)}")
        _say(f"  claim: {e.t('claim', lang)}")
        if rec is None:
            _say(f"  no result in {out!r} yet: `{e.command()} --out {out}`")
            continue
        from cvprimer.lab.cache import stale_reason

        why = stale_reason(rec)
        if rec.get("quick_provisional") and rec.get("mode") == "quick":
            _say("  PROVISIONAL: quick mode is too small to settle this claim; run it with --full")
        _say(f"  result: {rec.get('mode')} mode, seeds {rec.get('seeds')}"
             + (f"  [STALE: {why}; `{rec.get('command', e.command())} --out {out}` re-runs it]" if why else ""))
        for name, f in rec.get("figures", {}).items():
            spread = f" ± {f['spread']:.3g}" if f.get("spread") is not None else ""
            val = "n/a" if f.get("value") is None else f"{f['value']:.4g}"
            _say(f"  {name:<34} {val}{spread} {f.get('unit', '')}")
        if rec.get("status") == "error":
            _say(f"  ERROR: {rec.get('error')}")
        elif rec.get("verdict"):
            _say(f"  verdict: {rec['verdict']} ({rec.get('seed_agreement')} seeds)\n  {text(rec.get('evidence'))}")
        for name, f in (rec.get("beyond") or {}).items():
            val = "n/a" if f.get("value") is None else f"{f['value']:.4g}"
            _say(f"  beyond the seed: {name:<24} {val} {f.get('unit', '')}")
        if rec.get("beyond_evidence"):
            _say(f"  beyond the seed (never part of the verdict): {text(rec['beyond_evidence'])}")


def run(args: argparse.Namespace) -> int:
    cmd = args.lab_cmd
    if cmd == "list":
        cmd_list(args.json)
        return 0
    if cmd == "show":
        cmd_show(args.out, args.id, args.lang)
        return 0
    if cmd == "notebook":
        from cvprimer.lab.notebook import write_notebook

        path = write_notebook(args.id, args.nb_out, full=args.full, lang=args.nb_lang)
        print(f"notebook: {path}  (open it with: jupyter lab {path})")
        return 0
    if cmd == "report":
        html_path, json_path = cmd_report(args.out, args.lang)
        print(f"report: {html_path}\nresults: {json_path}")
        return 0
    if cmd is None:  # the main job: everything, quick, then the report
        args = argparse.Namespace(**vars(args), select=[], all=True, quick=True, seed=0, seeds=DEFAULT_SEEDS,
                                  force=False, jobs=None)
    require_all(NEEDS, what="the lab's experiments", extra="lab")  # alike on every MPI rank, before any collective
    comm = _comm()
    if cmd is None and (comm is None or comm.is_main) and os.path.isdir(args.out):
        _refuse_foreign(args.out, args.lang)  # before the run, not after it: the user's own files stay untouched
    done = cmd_run(args, _select(args), comm)
    if comm is not None and not comm.is_main:
        return 0
    if cmd is None:
        html_path, _ = cmd_report(args.out, args.lang)
        print(f"report: {os.path.abspath(html_path)}")
    else:
        print(update_report(args.out))
    return 1 if any(r.get("status") == "error" for r in done) else 0
