"""The session's private PostgreSQL cluster (``pg_server`` in tests/conftest.py: initdb in a
temporary folder, a free port on 127.0.0.1, fsync off, stopped and removed at the end; the tests
skip, saying why, only when no server binaries exist), with the read-only role's URL."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from pg_helpers import RO_PASSWORD_URL, RO_USER  # noqa: E402


@dataclass(frozen=True)
class RoServer:
    """The shared cluster, plus the URL of these tests' read-only role."""

    server: Any

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)

    def ro_url(self, query: str = "", password: bool = True) -> str:
        return self.server.role_url(RO_USER, RO_PASSWORD_URL if password else None, query)


@pytest.fixture(scope="session")
def pg_server(pg_server):
    """The root fixture's cluster (one per session and xdist worker), with ``ro_url``."""
    return RoServer(pg_server)
