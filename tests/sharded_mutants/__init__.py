"""Deliberately wrong sharding wrappers for ``--impl=torch-zero:MODULE`` / ``--impl=torch-fsdp:MODULE``
(tests/test_distributed.py asserts the suite fails each), and candidates that misbehave as processes."""
