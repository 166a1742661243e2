"""SGD whose step() runs without the step hooks: a port that re-implements step() and drops torch's
hook wrapper, so register_step_pre_hook/post_hook and the global ones are silently ignored."""

from mutants.compact import CompactSGD, mutant

SGD = mutant(CompactSGD, "ignores_step_hooks")
