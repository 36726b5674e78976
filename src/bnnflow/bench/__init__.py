"""Benchmarks of the engine (not tests): ``python -m bnnflow.bench.kernels``."""
