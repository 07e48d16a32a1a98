"""The host pool both backends share: which host takes the next request, and one pooled client per host.

People go faster by adding machines, so `backend.hosts` may list several; whatever the server speaks, spreading
requests over them is the same job: a client per host, sized so `backend.parallel` requests fit on its
connection pool with a few spare for listings, and each request sent to the host with the fewest in flight (ties
taken in turn, so an idle pool still spreads). The pool knows nothing of the protocol: a backend passes the
function that opens its kind of client (the `ollama` client, a plain `httpx.AsyncClient`) and the one that
closes it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Generic, TypeVar

import httpx

C = TypeVar("C")
T = TypeVar("T")

SPARE_CONNECTIONS = 4
"""Connections beyond `parallel` per host, so a listing or `show` is not queued behind generations."""


class HostPool(Generic[C]):
    """One or more hosts, one lazily opened client each, and least-busy choice of the next host.

    `connect(host, timeout, limits)` opens a backend's client for one host; `close(client)` releases it.
    """

    def __init__(
        self,
        hosts: list[str],
        *,
        parallel: int,
        timeout_s: float,
        connect: Callable[[str, httpx.Timeout, httpx.Limits], C],
        close: Callable[[C], Awaitable[None]],
    ) -> None:
        self.hosts = hosts
        self.parallel = parallel
        self.slots = len(hosts) * parallel
        self.timeout_s = timeout_s
        self._connect = connect
        self._close = close
        self._clients: dict[str, C] = {}
        self._busy = dict.fromkeys(hosts, 0)
        self._turn = itertools.count()

    def client(self, host: str) -> C:
        """The host's client, opened on first use so building a backend never touches the network."""
        client = self._clients.get(host)
        if client is None:
            pool = self.parallel + SPARE_CONNECTIONS
            client = self._connect(
                host,
                httpx.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s)),
                httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
            )
            self._clients[host] = client
        return client

    def pick(self) -> str:
        """The host with the fewest requests in flight; ties go round-robin so load spreads evenly."""
        if len(self.hosts) == 1:
            return self.hosts[0]
        start = next(self._turn) % len(self.hosts)
        order = self.hosts[start:] + self.hosts[:start]
        return min(order, key=self._busy.__getitem__)

    @contextmanager
    def lease(self) -> Iterator[str]:
        """Pick a host and count the request as in flight there until the block ends, however it ends."""
        host = self.pick()
        self._busy[host] += 1
        try:
            yield host
        finally:
            self._busy[host] -= 1

    async def each(self, call: Callable[[str], Awaitable[T]]) -> list[T]:
        """`call(host)` on every host at once, results in host order (a model must exist on all of them)."""
        return list(await asyncio.gather(*(call(host) for host in self.hosts)))

    async def aclose(self) -> None:
        """Close every opened client; the pool can be used again afterwards (clients reopen lazily)."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await self._close(client)


def on_every_host(listings: Sequence[Collection[str]]) -> list[str]:
    """The names every host lists, in the first host's order: a model is usable only where all hosts have it."""
    common = set(listings[0]).intersection(*listings[1:])
    return [name for name in listings[0] if name in common]
