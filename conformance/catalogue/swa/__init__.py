"""swa_utils cases: ``averaged_model.py`` (AveragedModel) and ``update_bn.py``, each with ``CASES``. SWALR's
cases are scheduler cases (``conformance/catalogue/sched/swalr.py``)."""
