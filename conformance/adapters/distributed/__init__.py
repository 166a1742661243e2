"""Sharded torch optimizers as candidates (``--impl=torch-zero``, ``--impl=torch-fsdp``): an adapter in the
harness process (``adapter``), a pool of rank processes on gloo (``pool``, ``worker``) and what each rank
runs (``engines``, which imports torch)."""
