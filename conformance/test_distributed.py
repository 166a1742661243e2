"""Checks only a distributed candidate (``--impl=torch-zero``, ``--impl=torch-fsdp``) gets; its trajectory
and single-step checks are those of ``test_optimizers.py``, run sharded over ``--world-size`` ranks."""


def test_resume_resharded(conformance_check):
    """A checkpoint gathered mid-run and loaded on another world size (N -> 1, 1 -> N), run to the end."""
    conformance_check()
