"""The reference must not depend on torch: it is the spec, not a copy of torch's output."""

import subprocess
import sys

SCRIPT = r"""
import importlib, importlib.abc, pkgutil, sys

class BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"refimpl imported {name}")

sys.meta_path.insert(0, BlockTorch())
import refimpl
for mod in pkgutil.walk_packages(refimpl.__path__, "refimpl."):
    importlib.import_module(mod.name)
print(sorted(m for m in sys.modules if m.startswith("refimpl")))
"""


def test_refimpl_imports_without_torch():
    # A fresh interpreter: the test session itself has torch loaded already.
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "refimpl.optim.sgd" in out.stdout
