"""pytest-benchmark suites of seqbench (run: ``pytest benchmarks/ --benchmark-only``)."""
