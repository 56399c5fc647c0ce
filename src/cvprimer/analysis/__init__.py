r"""Model analysis: per-layer cost, parameters, memory, receptive fields and roofline (issue #8).

    from cvprimer import analysis
    rep = analysis.analyze(model, input_shape=(1, 3, 224, 224), convention="torchvision")
    print(rep.table()); rep.to_csv("resnet18.csv"); rep.plot_roofline("roofline.png")

Everything is driven by one shape-only trace (:mod:`.trace`): every op contributes its own cost
formula (``Function.cost``); an op without one is listed as *uncounted*, never counted as zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cvprimer.analysis.cost import CONVENTIONS, headline, norm_parameter_ids, op_cost, parameter_summary
from cvprimer.analysis.effective import effective_receptive_field
from cvprimer.analysis.memory import check_fits, erf_memory_estimate
from cvprimer.analysis.receptive_field import RF, ReceptiveFields, input_region
from cvprimer.analysis.region import unit_region
from cvprimer.analysis.report import Report, Row, build_report
from cvprimer.analysis.roofline import MachineProfile, measure_machine
from cvprimer.analysis.trace import Trace, TraceError, trace
from cvprimer.analysis.user_model import ModelSpecError, build_model

__all__ = [
    "CONVENTIONS", "RF", "MachineProfile", "ModelSpecError", "ReceptiveFields", "Report", "Row", "Trace", "TraceError",
    "analyze", "build_model", "effective_receptive_field", "headline", "input_region", "measure_machine", "op_cost",
    "parameter_summary", "resolve_model", "trace", "unit_region",
]


def resolve_model(model: Any) -> Any:
    """A Module as is, or the model a SPEC names (:func:`.user_model.build_model`): a zoo name
    (an unknown one raises ``ValueError`` listing the known ones), ``FILE.py:FUNCTION`` or
    ``package.module:FUNCTION``."""
    if not isinstance(model, str):
        if not hasattr(model, "named_modules"):
            raise TypeError(f"analyze: expected a Module or a model name, got {type(model).__name__}")
        return model
    return build_model(model)


def analyze(model: Any, input_shape: Sequence[Any] = (1, 3, 224, 224), convention: str = "torchvision",
            profile: MachineProfile | Callable[[], MachineProfile] | None = None, dtype: Any = None,
            erf_samples: int = 0, rng: Any = None, memory_limit: int | None = None) -> Report:
    """Analyze ``model`` (a Module or a zoo name) on an input of ``input_shape``.

    ``input_shape`` may omit the batch axis ((C, H, W) means N = 1); a list of shapes analyzes a model with
    several inputs (``model(x1, x2, ...)``; receptive fields refer to the first). ``convention`` picks the
    headline number: ``"torchvision"`` (GMACs of conv + matmul, torchvision's "GFLOPS"),
    ``"macs"`` or ``"flops"`` (2 x MACs + other FLOPs). ``profile`` is the machine for the
    roofline, or a function returning it, called once the model has traced (the command line reads its
    per-machine cache that way, :mod:`.machine_cache`); by default a short micro-benchmark measures this
    one (once per process). ``dtype``
    of the traced input defaults to the model's parameter dtype (float32 without parameters).
    ``erf_samples > 0`` also measures the effective receptive field of the centre unit of the
    last layer with a spatial output (a real forward + backward per sample; ``rng`` seeds it)
    and puts it beside the theoretical one in ``totals["erf"]``; that measurement allocates, so its memory
    is estimated from the shape-only trace first (:func:`.memory.erf_memory_estimate`) and a ``ValueError``
    ("needs ~N GiB, more than the M GiB available") refuses it when the estimate exceeds ``memory_limit``
    bytes (default: :func:`.memory.available_memory`).
    Returns a :class:`Report` (``.rows``, ``.totals``, ``.table()``, ``.to_csv``, ``.to_json``,
    ``.plot_costs``, ``.plot_roofline``).
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"analyze: convention must be one of {CONVENTIONS}, got {convention!r}")
    shapes = [tuple(s) for s in input_shape] if input_shape and isinstance(input_shape[0], (tuple, list)) \
        else [tuple(input_shape)]
    for i, s in enumerate(shapes):
        if not s or not all(isinstance(v, int) and v > 0 for v in s):
            raise ValueError(f"analyze: input_shape must be positive ints, got {input_shape!r}")
        if len(s) == 3:
            shapes[i] = (1,) + s
    shape = shapes[0]
    if erf_samples > 0 and len(shapes) > 1:
        raise ValueError("analyze: the effective receptive field is measured for single-input models only")
    m = resolve_model(model)
    if dtype is None:
        dtype = next((p.data.dtype for p in m.parameters()), "float32")
    tr = trace(m, shape, dtype=dtype, extra_shapes=tuple(shapes[1:]))
    pf = profile() if callable(profile) else (profile or measure_machine())
    rep = build_report(tr, convention, pf, parameter_summary(m, norm_parameter_ids(tr)))
    if erf_samples > 0:
        rep.totals["erf"] = _erf_beside_theory(m, shape, rep, erf_samples, rng, memory_limit)
    return rep


def _erf_beside_theory(m: Any, shape: tuple[int, ...], rep: Report, n: int, rng: Any,
                       memory_limit: int | None) -> dict[str, Any]:
    """ERF of the centre unit of the last module call with a 4-D output, and its theoretical field; refused
    first when its estimated memory exceeds what is available."""
    calls = [c for c in rep.trace.calls if c.name and c.out_shape is not None and len(c.out_shape) == 4
             and getattr(rep.rf.of_array(c.out_id), "kind", "") == "local"]
    if not calls or len(shape) != 4:
        return {"layer": None, "note": "no layer with a local receptive field"}
    call = calls[-1]
    producer = rep.trace.producers.get(call.out_id) if call.out_id is not None else None
    upto = producer[0] if producer is not None else None
    check_fits(erf_memory_estimate(rep.trace, rep.totals, upto),
               f"the effective receptive field (erf_samples, --erf) on input {shape}", memory_limit)
    e = effective_receptive_field(m, (1,) + shape[1:], layer=call.name, n_samples=n, rng=rng)
    theory = rep.rf.of_array(call.out_id)
    assert theory is not None  # the layer was chosen for its local field
    return {"layer": call.name, "support_size": e["support_size"], "size_95": e["size_mass"],
            "theoretical_size": theory.size}
