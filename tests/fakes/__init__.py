"""Small fake third-party libraries, one per situation a real library puts the suite in
(tests/test_fair_verdict.py).

Each has a correct form, which must get no failure, and a deliberately wrong form, which must still fail with
a message naming what is wrong:

- ``other_layout``: a drop-in whose optimizer state is not in torch's layout (``mu``/``nu``/``count``);
  ``other_layout_mapped`` declares the key map; ``other_layout_wrong`` keeps a wrong second moment;
- ``missing_options``: classes without some of torch's options (SGD without nesterov/dampening/maximize, Adam
  without amsgrad); ``missing_options_wrong`` gets momentum wrong;
- ``numpy_port``: NumPy adapters of Adam as JAX/Keras/MLX ports are: one that validates nothing, one that
  keeps its scalar hyperparameters as float32 (as Keras does), each with a wrong twin;
- ``reexport``: ``from torch.optim import *`` and torch's schedulers, which must pass exactly as torch does;
  ``reexport_own_asgd`` adds its own ASGD, which must not be judged by torch's known deviations;
- ``imports_lr_scheduler``: ``from torch.optim import lr_scheduler`` for base classes, and its own StepLR;
  ``imports_lr_scheduler_wrong``: its own StepLR decays one epoch late.

``matrix_lib`` (tests/test_matrix.py) is a library for the cross-library matrix: an Adam with a deliberate,
declared deviation (``matrix_lib.toml``), a class of its own that conforms, re-exports of torch's classes, and
classes it lacks.
"""
