r"""Where the (experiment, seed) tasks of :func:`cvprimer.lab.runner.run_many` run: in this process, in worker
processes, or over MPI ranks. Each executor calls ``finish(plan)`` once an experiment's last seed is in."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cvprimer.lab.experiment import Experiment


@dataclass
class Plan:
    exp: type[Experiment]
    seeds: list[int]
    cost: float  # expected seconds per seed (the last record's), for longest-first scheduling
    outs: dict[int, Any] = field(default_factory=dict)


def _tasks(plans: Sequence[Plan]) -> list[tuple[int, int]]:
    """(plan index, seed) pairs, longest experiments first."""
    order = sorted(range(len(plans)), key=lambda i: -plans[i].cost)
    return [(i, s) for i in order for s in plans[i].seeds]


def in_this_process(plans: Sequence[Plan], quick: bool, finish: Callable[[Plan], None], show: bool) -> None:
    from cvprimer.lab import runner

    bar = _bar(len(plans), show)
    try:
        for plan in plans:
            if bar is not None:
                bar.set_description(plan.exp.id)
            for s in plan.seeds:
                plan.outs[s] = runner.run_task(plan.exp, quick, s, s == plan.seeds[0], _inner(bar, plan.exp.id))
            finish(plan)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()


def in_processes(plans: Sequence[Plan], quick: bool, jobs: int, finish: Callable[[Plan], None], show: bool) -> None:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from cvprimer.lab import runner

    tasks = _tasks(plans)
    bar = _bar(len(plans), show)
    # spawn, not fork: the parent may already hold BLAS and engine worker threads, which a fork would copy dead
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=mp.get_context("spawn"))
    try:
        pending = {pool.submit(runner._pool_task, plans[i].exp, quick, s, s == plans[i].seeds[0]): i for i, s in tasks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                o = fut.result()
                plan = plans[i]
                plan.outs[o.seed] = o
                if len(plan.outs) == len(plan.seeds):
                    finish(plan)
                    if bar is not None:
                        bar.update(1)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    pool.shutdown(wait=True)


def over_mpi(comm: Any, plans: list[Plan], quick: bool, finish: Callable[[Plan], None]) -> None:
    """Rank 0 broadcasts the tasks (experiment ids and seeds), each rank runs every world_size-th one (longest
    first, so the heavy tasks spread), rank 0 gathers every rank's outputs and writes the records."""
    from cvprimer.lab import runner
    from cvprimer.lab.registry import get

    plan_ids = comm.bcast_object([(p.exp.id, p.seeds) for p in plans] if comm.is_main else None)
    tasks = comm.bcast_object(_tasks(plans) if comm.is_main else None)
    exps = {exp_id: (plans[i].exp if comm.is_main else get(exp_id)) for i, (exp_id, _) in enumerate(plan_ids)}
    mine = []
    for i, s in tasks[comm.rank::comm.world_size]:
        exp_id, seeds = plan_ids[i]
        mine.append(runner.run_task(exps[exp_id], quick, s, s == seeds[0]))
    gathered = comm.mpi_comm.gather(mine, root=0)  # our own dataclasses between our own processes
    if not comm.is_main:
        return
    for outs in gathered:
        for o in outs:
            plan = next(p for p in plans if p.exp.id == o.exp_id)
            plan.outs[o.seed] = o
    for plan in plans:
        finish(plan)


def _bar(total: int, show: bool) -> Any:
    if not show:
        return None
    try:
        from tqdm.auto import tqdm  # a live widget in Jupyter, a text bar on a terminal
    except ImportError:  # the lab extra brings tqdm; without it there is simply no bar
        return None
    return tqdm(total=total, unit="exp", file=sys.stderr, leave=False, disable=None, dynamic_ncols=True)


def _inner(bar: Any, exp_id: str) -> Callable[[int, int | None], None] | None:
    if bar is None:
        return None

    def cb(done: int, total: int | None) -> None:
        bar.set_description(f"{exp_id} {done}/{total}" if total else f"{exp_id} {done}")

    return cb
