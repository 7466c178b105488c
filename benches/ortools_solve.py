#!/usr/bin/env python3
"""Solve a DIMACS min-cost flow file with Google OR-tools' SimpleMinCostFlow.

Prints one line: `cost=<optimal cost> solve=<seconds>` (solve time only,
excluding reading the file), or `status=<name>` when not optimal. Arc
lines are parsed by numpy from a grep'd copy so that files of tens of
millions of arcs fit in memory.
"""
import subprocess
import sys
import tempfile
import time

import numpy as np
from ortools.graph.python import min_cost_flow


def main(path):
    with tempfile.NamedTemporaryFile("w+b") as arcs, tempfile.NamedTemporaryFile("w+b") as nodes:
        subprocess.run(f"grep -E '^a ' {path!r} | cut -d' ' -f2-", shell=True, stdout=arcs, check=True)
        subprocess.run(f"grep -E '^n ' {path!r} | cut -d' ' -f2-", shell=True, stdout=nodes, check=True)
        a = np.fromfile(arcs.name, dtype=np.int64, sep=" ").reshape(-1, 5)
        n = np.fromfile(nodes.name, dtype=np.int64, sep=" ").reshape(-1, 2)
    if np.any(a[:, 2] != 0):
        sys.exit("lower bounds are not supported by this runner")
    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(a[:, 0] - 1, a[:, 1] - 1, a[:, 3], a[:, 4])
    smcf.set_nodes_supplies(n[:, 0] - 1, n[:, 1])
    del a
    t = time.perf_counter()
    status = smcf.solve()
    dt = time.perf_counter() - t
    if status != smcf.OPTIMAL:
        print(f"status={status}")
    else:
        print(f"cost={smcf.optimal_cost()} solve={dt:.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
