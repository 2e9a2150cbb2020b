"""Benchmarks of the tongban chassis and system (`python -m bench.run`); not tests."""
