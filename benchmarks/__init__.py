"""Benchmarks run by `make bench`; each compares against a named peer in the same run."""
