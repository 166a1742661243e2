"""SGD whose Nesterov step uses the buffer b_t, not g_t + momentum * b_t (plain momentum)."""

from mutants.compact import CompactSGD, mutant

SGD = mutant(CompactSGD, "nesterov_uses_buffer")
