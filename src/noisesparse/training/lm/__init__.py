"""Sparsity in the MLP layers of a small Transformer language model trained with noise.

The authors never published this code; where the noise enters is our choice: at the input
of every MLP block, after its LayerNorm, during training only (see model.py).
"""
