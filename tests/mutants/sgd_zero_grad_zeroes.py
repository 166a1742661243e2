"""SGD whose zero_grad() fills .grad with zeros instead of setting it to None (torch's default since 2.0), so
a frozen layer keeps a zero gradient and momentum goes on moving it."""

from mutants.compact import CompactSGD, mutant

SGD = mutant(CompactSGD, "zero_grad_zeroes")
