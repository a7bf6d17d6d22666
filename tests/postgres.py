"""A throw-away PostgreSQL + PostGIS server on 127.0.0.1 for the export tests.

Debian's server binaries (``postgresql`` and ``postgresql-15-postgis-3``, installed by
``.ci/run``) in a fresh data folder, on a free port, trusting local connections. PostgreSQL
refuses to run as root, so as root (CI) the server runs as the ``postgres`` user Debian's
package creates (else ``nobody``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))


def missing() -> str | None:
    """Why no server can be started here, or None."""
    if not BIN_DIRS:
        return "PostgreSQL server binaries not found under /usr/lib/postgresql/"
    sharedir = subprocess.run(
        [BIN_DIRS[-1] / "pg_config", "--sharedir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not (Path(sharedir) / "extension" / "postgis.control").exists():
        return f"PostGIS not installed for PostgreSQL {BIN_DIRS[-1].parent.name}"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    port: int
    folder: Path
    owner: list[str]  # the command prefix that runs a program as the server's user

    def url(self, database: str = "luodian", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        pg_ctl = BIN_DIRS[-1] / "pg_ctl"
        subprocess.run(
            [*self.owner, pg_ctl, "-D", self.folder / "data", "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> Server:
    """Start a server with database ``luodian`` (PostGIS enabled), ``plain`` (no PostGIS)
    and a login role ``visitor`` that may not create anything."""
    import psycopg

    bin_dir = BIN_DIRS[-1]
    folder = Path(tempfile.mkdtemp(prefix="luodian-pg-"))
    owner: list[str] = []
    if os.geteuid() == 0:
        user = next(u for u in ("postgres", "nobody") if _user_exists(u))
        shutil.chown(folder, user)
        owner = ["runuser", "-u", user, "--"]
    port = free_port()
    data, log = folder / "data", folder / "server.log"
    subprocess.run(
        [*owner, bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust",
         "-E", "UTF8", "--no-locale"],
        check=True, capture_output=True,
    )  # fmt: skip
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    started = subprocess.run(
        [*owner, bin_dir / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "start"],
        capture_output=True,
        text=True,
    )
    server = Server(port, folder, owner)
    if started.returncode != 0:
        text = log.read_text() if log.exists() else started.stderr
        server.stop()
        raise RuntimeError(f"PostgreSQL did not start: {text}")
    with psycopg.connect(server.url("postgres"), autocommit=True) as connection:
        connection.execute("CREATE DATABASE luodian")
        connection.execute("CREATE DATABASE plain")
        connection.execute("CREATE ROLE visitor LOGIN")
    with psycopg.connect(server.url(), autocommit=True) as connection:
        connection.execute("CREATE EXTENSION postgis")
    return server


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
