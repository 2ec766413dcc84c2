"""A Redis client for the broker's own Redis, plain or behind Sentinel."""

from __future__ import annotations

from urllib.parse import urlsplit

import redis
from redis.sentinel import Sentinel

REDIS_SCHEMES = ("redis://", "rediss://", "sentinel://")


def redis_client(url: str, *, master_name: str, timeout: float) -> redis.Redis:
    """A client for `url`: redis:// or rediss:// as it is; sentinel:// (one
    or more, separated by ";", as Celery's broker URL takes them) resolves the
    current master of `master_name` through the sentinels on each
    connection, so it follows a failover. The database number is the first
    URL's path."""
    if not url.startswith("sentinel://"):
        return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    hosts: list[tuple[str, int]] = []
    db = 0
    password: str | None = None
    for part in url.split(";"):
        parts = urlsplit(part.strip())
        hosts.append((parts.hostname or "localhost", parts.port or 26379))
        if len(hosts) == 1:
            db = int(parts.path.lstrip("/") or 0)
            password = parts.password
    sentinel = Sentinel(
        hosts,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        sentinel_kwargs={"socket_connect_timeout": timeout, "socket_timeout": timeout},
    )
    return sentinel.master_for(
        master_name,
        db=db,
        password=password,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
    )
