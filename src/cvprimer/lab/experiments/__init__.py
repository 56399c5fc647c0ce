"""The lab's experiments and pages: one module per question or tight group of questions
(``q03_dilated_rf.py``). Each defines :class:`~cvprimer.lab.experiment.Experiment` subclasses; the registry
finds them. Shared training loops and data helpers live in :mod:`cvprimer.lab.common`, never copied."""
