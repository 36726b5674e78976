"""Benchmarks (not tests): engine kernels (``python -m bnnflow.bench.kernels``,
``bnnflow.bench.glue``), and whole models against the peer engines (``bnnflow bench``)."""
