"""optim-conformance's harness: case catalogue, golden vectors, adapters, the pytest plugin and reports.

Data flows one way: ``refimpl`` computes the expected values for the cases in ``catalogue``; ``vectors``
stores them; the harness runs a candidate on the same cases and compares.
"""

__version__ = "0.1.0"
