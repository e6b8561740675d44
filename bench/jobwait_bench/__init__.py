"""jobwait benchmark harness: jobwait against the official Huawei Cloud Python SDK (the peer in
bench/peer/), both on the same simulated job API. Run it as `python3 bench/run.py`; bench/README.md
describes the phases, what each measures and where the results go.

Modules, in the order they depend on each other:
config (paths and fixed values) <- scenario (what the simulator serves) <- measure (processes,
CPU, RSS, rates, lag, correctness) <- runner (simulator + client runs, the phases) <- report
(tables, targets, BENCHMARKS.md) <- cli (the command line, the phases in order); machine sets
up the build, the peer's virtualenv and the tools, and describes the machine.
"""
