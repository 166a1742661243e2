import sys
from pathlib import Path

# Test helpers (tests/differential.py) are imported as top-level modules.
sys.path.insert(0, str(Path(__file__).parent))
