"""Paths as a report may show them: relative to the package or the working directory, never the absolute
paths of the machine that made the report (a committed or shared report must not leak them, and must read
the same wherever it was made)."""

from __future__ import annotations

import os
import re
import sys
import sysconfig
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# How the package's own files are named in a report: ``conformance/golden`` is the installed package's data.
PACKAGE_NAME = PACKAGE_DIR.name


def display(path: Path | str) -> str:
    """``path`` without the machine's prefix: package data as ``conformance/...``, a file under the working
    directory relative to it, and anything else by its last two parts (``.../elsewhere/vectors``)."""
    resolved = Path(path).resolve()
    for root, prefix in ((PACKAGE_DIR, PACKAGE_NAME), (Path.cwd().resolve(), ".")):
        if resolved == root or root in resolved.parents:
            relative = resolved.relative_to(root).as_posix()
            if prefix == ".":
                return relative
            return prefix if relative == "." else f"{prefix}/{relative}"
    return ".../" + "/".join(resolved.parts[-2:])


def scrub(text: str) -> str:
    """``text`` with every absolute prefix of this machine that a message can carry (the package, the working
    directory, the installed libraries, Python itself, the home directory) replaced by a short name; for free
    text such as a traceback."""
    prefixes = {
        str(PACKAGE_DIR): PACKAGE_NAME,
        str(Path.cwd().resolve()): ".",
        sysconfig.get_paths()["purelib"]: "<site-packages>",
        sysconfig.get_paths()["platlib"]: "<site-packages>",
        sysconfig.get_paths()["stdlib"]: "<stdlib>",
        sys.prefix: "<python>",
        os.path.expanduser("~"): "~",
    }
    # Longest first: the package may live under the working or the home directory.
    for prefix in sorted((p for p in prefixes if len(p) > 1), key=len, reverse=True):
        text = re.sub(re.escape(prefix) + r"(?=/|\b)", prefixes[prefix], text)
    return text
