"""Benchmarks (not tests): engine kernels and whole models against peer engines.

``python -m bnnflow.bench.kernels``, ``python -m bnnflow.bench.glue``, ``bnnflow bench``.
"""
