"""Gunicorn settings for the container image, read from the environment.

PORT             port to listen on, on all interfaces (default 8000)
WEB_CONCURRENCY  number of worker processes (default 2 * cores + 1, at most 8)
PROMETHEUS_MULTIPROC_DIR  where the workers keep their Prometheus metrics, so that
                 /metrics adds them up whichever worker answers (emptied at start)
"""

from __future__ import annotations

import os
import shutil
from typing import Any

MAX_DEFAULT_WORKERS = 8


def _cores() -> int:
    # CPUs this process may run on (a container's cpuset), not all of the host's.
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def _workers() -> int:
    raw = os.environ.get("WEB_CONCURRENCY", "").strip()
    if not raw:
        return min(2 * _cores() + 1, MAX_DEFAULT_WORKERS)
    value = int(raw)
    if value < 1:
        raise ValueError(f"WEB_CONCURRENCY must be at least 1, got {raw!r}")
    return value


def _port() -> int:
    raw = os.environ.get("PORT", "").strip() or "8000"
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError(f"PORT must be between 1 and 65535, got {raw!r}")
    return value


# A container's port is only reachable through what it publishes, so listen on all interfaces.
bind = f"0.0.0.0:{_port()}"
workers = _workers()
timeout = 30
accesslog = "-"
errorlog = "-"


def on_starting(server: Any) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        # Counters of a previous run's workers would be added to this run's.
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
