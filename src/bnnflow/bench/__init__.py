"""Benchmarks: bnnflow kernels and models against peer engines."""
