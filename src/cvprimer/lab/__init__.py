"""The lab: one experiment per claim of the seed document's 54 questions, run on the engine with real embedded
data, each with measured figures, plots and a verdict computed by ``decide`` from thresholds declared up front;
and a self-contained bilingual HTML report.

    cvprimer lab                        # run everything in quick mode, then write lab-report/index.html
    cvprimer lab run q19 --full         # one question, 3 seeds
    cvprimer lab notebook q19           # a Jupyter notebook that runs one experiment
    from cvprimer import lab; lab.select(["q3"]); lab.run_in_notebook("q19")

See :mod:`cvprimer.lab.experiment` for the anatomy of an experiment.
"""

from cvprimer.lab.experiment import (  # noqa: F401
    CONFIRMED,
    NUANCED,
    REFUTED,
    Context,
    Experiment,
    Figure,
    Plot,
    Result,
    Table,
    evidence,
    fmt,
    verdict_if,
)
from cvprimer.lab.notebook import NotebookRun, run_in_notebook, write_notebook  # noqa: F401
from cvprimer.lab.registry import SelectionError, all_experiments, by_question, get, select  # noqa: F401
from cvprimer.lab.runner import run_many, run_one  # noqa: F401
