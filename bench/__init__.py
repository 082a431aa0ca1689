"""Benchmarks: the seeds, the dev questions and the external retrieval sets (`make bench`)."""
