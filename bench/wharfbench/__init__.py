"""Wharf and CNCF Distribution, side by side, on this machine (run through ./bench/run).

Benchmarks are not tests: nothing here fails on a time; a target that is missed is reported as
missed. Every load loop is bounded in time and count and sends traffic to 127.0.0.1 only.
The layout is described in bench/README.md.
"""
