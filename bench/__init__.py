"""Benchmarks: latency, throughput, isolation and cost, beside the designs tiltbob replaces.

``make bench`` runs them all (``python -m bench``) and writes ``bench/results/``.
"""
