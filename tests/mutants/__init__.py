"""Deliberately wrong torch.optim-compatible implementations: the suite must fail every one of them.

Each mutant is a module exporting the class(es) it breaks, under torch's names, so it runs as
``pytest conformance --impl=torch:mutants.<name>`` (with ``tests/`` on ``sys.path``). The classes come
from ``compact.py``: short, readable torch implementations with named mistakes that can be switched on.
The same compact classes with no mistake switched on must pass (``tests/test_mutants.py`` checks that
control), so a mutant's failure is its mistake's doing and nothing else's.
"""
