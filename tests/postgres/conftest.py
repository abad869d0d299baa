"""A private PostgreSQL cluster for the whole session: initdb in a temporary folder, a free port
on 127.0.0.1, fsync off, stopped and removed at the end. The tests skip (saying why) only when
no PostgreSQL server binaries exist; ``make test`` installs them from Debian's packages."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from pg_helpers import RO_PASSWORD_URL, RO_USER  # noqa: E402


def pg_bin() -> Path | None:
    """The folder of ``pg_ctl``: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl") if p.is_file()]
    versions.sort(key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Server:
    port: int
    folder: Path

    def admin_url(self, query: str = "") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres{query}"

    def ro_url(self, query: str = "", password: bool = True) -> str:
        auth = f"{RO_USER}:{RO_PASSWORD_URL}" if password else RO_USER
        return f"postgresql://{auth}@127.0.0.1:{self.port}/postgres{query}"

    def sql(self, *statements: str, user: str = "postgres", password: str | None = None):
        """Run statements; the rows of the last one."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=user, password=password, dbname="postgres"
        ) as con:
            con.autocommit = True
            rows = None
            for s in statements:
                cur = con.execute(s)
                rows = cur.fetchall() if cur.description else None
            return rows


@pytest.fixture(scope="session")
def pg_server():
    bin_dir = pg_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (pg_ctl, initdb): `make test` installs them")
    # the server refuses to run as root: then it runs as an unprivileged account
    run_as = None
    if os.geteuid() == 0:
        name = "postgres" if _has_user("postgres") else "nobody"
        run_as = pwd.getpwnam(name)
    folder = Path(tempfile.mkdtemp(prefix="miglink-pg-"))
    if run_as is not None:
        os.chown(folder, run_as.pw_uid, run_as.pw_gid)
    kw = {"user": run_as.pw_uid, "group": run_as.pw_gid} if run_as else {}
    data, port = folder / "data", _free_port()

    def run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, cwd=folder, **kw)

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
    (data / "pg_hba.conf").write_text(
        "local all all trust\n"
        "host all postgres 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
    )
    opts = f"-h 127.0.0.1 -p {port} -k {folder} -F -c full_page_writes=off -c work_mem=64MB"
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(folder / "log"),
        "-w",
        "-o",
        opts,
        "start",
    )
    try:
        yield Server(port, folder)
    finally:
        subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            cwd=folder,
            **kw,
        )
        shutil.rmtree(folder, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
