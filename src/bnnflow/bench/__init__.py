"""Benchmarks (not tests): engine kernels (`python -m bnnflow.bench.kernels`, `bnnflow.bench.glue`) and models against peer engines."""
