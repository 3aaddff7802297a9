"""python -m bench: the benchmarks (P1-P6); ``python -m bench.faults``: the fault suite."""

from bench.perf.suite import main

if __name__ == "__main__":
    main()
