"""AMSGrad keeping the max of the bias-corrected second moment instead of the raw one."""

from mutants.compact import CompactAdam, mutant

Adam = mutant(CompactAdam, "amsgrad_on_corrected_moment")
