"""The thread count of a benchmark run (``$RP_BENCH_THREADS``, default 2), applied to the BLAS and
OpenMP pools through their environment variables.

numpy and torch size their thread pools when they load, so a benchmark imports this module before
them: ``from bench_threads import THREADS`` as its first import.
"""

from __future__ import annotations

import os

THREADS = int(os.environ.get("RP_BENCH_THREADS", "2"))
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, str(THREADS))
