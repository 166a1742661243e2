"""optim-conformance's reference: torch.optim's optimizers, LR schedulers and SWA utilities in NumPy.

The reference is the spec, written to be read next to the papers and torch's documentation. It never imports
torch: a test enforces that, so the reference cannot silently become "whatever torch computes".
"""

__version__ = "0.1.0"
