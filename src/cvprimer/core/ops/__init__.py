"""Primitive differentiable ops, one family per module (arith, unary, reduce, shape, index, linalg)."""
