"""The random streams of a run, each named once. A run's `seed` starts every stream; each
stream adds its own offset, so that no two streams share a generator state and drawing more
from one (a longer evaluation, another log step) never shifts what another draws.

The model's initial weights draw from `seed` itself (model.py, lm/model.py).
"""

BATCH_ORDER = 1_000_003  # the batch order: one shuffle of the training inputs per epoch
TRAIN_NOISE = 2_000_003  # the noise added to training inputs
EVAL_NOISE = 10_007  # the noise of evaluation's noisy pass (training/train.py evaluate, lm/train.py)
DEAD_PASS_NOISE = 30_011  # the noise of the full noisy pass that finds dead neurons
IMPLICIT_NOISE = 40_009  # the noise draws of claim 9's implicit loss terms (implicit.py)
