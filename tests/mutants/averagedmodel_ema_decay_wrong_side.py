"""EMA with the decay on the wrong side: ema = (1 - decay) * ema + decay * current (both EMA functions)."""

from mutants.compact_swa import swa_functions

_functions = swa_functions("decay_wrong_side")
AveragedModel = _functions["AveragedModel"]
get_ema_avg_fn = _functions["get_ema_avg_fn"]
get_ema_multi_avg_fn = _functions["get_ema_multi_avg_fn"]
