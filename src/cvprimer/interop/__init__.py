"""Interoperability: reading models people already have.

``from_torch(module, example_input)`` turns a ``torch.nn.Module`` built from the standard layers into a
cvprimer Module with the same weights (through ``torch.fx`` symbolic tracing), so the analyzer (receptive
fields, memory, roofline) and the engine work on it. PyTorch is needed only here, imported when called.
"""

from cvprimer.interop.torch_fx import UnsupportedLayerError, from_torch  # noqa: F401
