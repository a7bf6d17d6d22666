"""A persistent cache of online geocoder answers, so a rebuild never asks twice.

Online providers are slow, rate-limited and metered, and their answers rarely change, so
every answer is kept in one SQLite file: found places with their WGS-84 position and the
provider's own label, and also *negative* answers (nothing found, or only places outside
the district) so that a rebuild does not spend the quota asking again. Negative answers
may expire (a provider can learn a new village); found ones do not.

Each write is one SQLite transaction in WAL mode: a crash, Ctrl-C or power cut leaves the
file as it was before that write, never half-written. A file SQLite cannot read raises
:class:`~luodian_map.errors.GeocodingError` telling the user it can simply be deleted.

The file is not trusted: a row is checked as strictly as a fresh answer (finite WGS-84
coordinates, a known reason, a JSON object as the raw answer, …) and a row that fails is
ignored, asked again, and counted in :attr:`GeocodeCache.rejected`; the caller also
rejects a row its own checks refuse (a point outside the district) with
:meth:`GeocodeCache.reject`.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import GeocodingError

__all__ = [
    "DEFAULT_NEGATIVE_TTL_S",
    "NO_RESULT",
    "OTHER_NAME",
    "OUTSIDE_DISTRICT",
    "CachedAnswer",
    "GeocodeCache",
    "normalise_query",
]

SCHEMA_VERSION = 1
DEFAULT_NEGATIVE_TTL_S = 90 * 24 * 3600.0

NO_RESULT = "no_result"
OUTSIDE_DISTRICT = "outside_district"
OTHER_NAME = "other_name"  # places in the district, but none of them the one asked for
REASONS = (NO_RESULT, OUTSIDE_DISTRICT, OTHER_NAME)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    provider      TEXT NOT NULL,
    query         TEXT NOT NULL,
    region        TEXT NOT NULL,
    found         INTEGER NOT NULL,
    lon           REAL,
    lat           REAL,
    label         TEXT,
    crs           TEXT,
    level         TEXT,
    uncertainty_m REAL,
    reason        TEXT,
    raw           TEXT,
    fetched_at    REAL NOT NULL,
    PRIMARY KEY (provider, query, region)
) WITHOUT ROWID
"""
_COLUMNS = (
    "provider, query, region, found, lon, lat, label, crs, level, uncertainty_m, reason, raw,"
    " fetched_at"
)
_WHITESPACE = re.compile(r"\s+")

logger = logging.getLogger("luodian_map.geocode")


def normalise_query(query: str) -> str:
    """One key per place however it was typed: full-width forms and stray spaces fold away."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", query)).strip()


@dataclass(frozen=True)
class CachedAnswer:
    """What a provider once answered for a query; ``found`` False is a negative answer.

    ``lon``/``lat`` are WGS-84 (already converted); ``crs`` names the provider's own datum
    before conversion, so a suspicious point can be traced back. ``reason`` says why a
    negative answer is negative (``no_result``, ``outside_district`` or ``other_name``).
    """

    provider: str
    query: str
    found: bool
    region: str = ""
    lon: float | None = None
    lat: float | None = None
    label: str | None = None
    crs: str | None = None
    level: str | None = None
    uncertainty_m: float | None = None
    reason: str | None = None
    raw: dict[str, Any] | None = None
    fetched_at: float | None = None

    def __post_init__(self) -> None:
        if self.found:
            _check_number(self.lon, "lon", 180.0)
            _check_number(self.lat, "lat", 90.0)
        elif self.reason not in REASONS:
            raise ValueError(f"a negative answer needs a reason in {REASONS}, not {self.reason!r}")
        if self.uncertainty_m is not None:
            _check_number(self.uncertainty_m, "uncertainty_m", math.inf)
            if self.uncertainty_m < 0:
                raise ValueError(f"uncertainty_m {self.uncertainty_m!r} is negative")
        if self.fetched_at is not None:
            _check_number(self.fetched_at, "fetched_at", math.inf)
        for name in ("label", "crs", "level"):
            if not isinstance(getattr(self, name), str | None):
                raise ValueError(f"{name} is not text")
        if self.raw is not None and not isinstance(self.raw, dict):
            raise ValueError("the raw answer is not a JSON object")

    @classmethod
    def hit(
        cls,
        provider: str,
        query: str,
        *,
        lon: float,
        lat: float,
        label: str | None,
        crs: str,
        level: str | None = None,
        uncertainty_m: float | None = None,
        raw: dict[str, Any] | None = None,
        region: str = "",
    ) -> CachedAnswer:
        return cls(
            provider, query, True, region, float(lon), float(lat), label, crs, level,
            uncertainty_m, None, raw,
        )  # fmt: skip

    @classmethod
    def miss(cls, provider: str, query: str, *, reason: str, region: str = "") -> CachedAnswer:
        return cls(provider, query, False, region, reason=reason)


class GeocodeCache:
    """SQLite-backed store of :class:`CachedAnswer`, keyed by (provider, query, region).

    ``region`` is whatever identifies the search area the answer depends on (the caller
    derives it from the district polygon and bounds), so changing the district does not
    reuse answers judged against the old one.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        negative_ttl_s: float | None = DEFAULT_NEGATIVE_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.negative_ttl_s = negative_ttl_s
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._rejected: set[tuple[str, str, str]] = set()
        self._conn: sqlite3.Connection | None = None
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so every write is
            # exactly one explicit transaction.
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        self._conn = conn
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self._error(exc) from exc

    def _error(self, exc: Exception) -> GeocodingError:
        detail = str(exc).replace("\n", " ")
        return GeocodingError(
            f"geocode cache {self.path} is unreadable ({detail}); delete it and run again"
        )

    def _open(self) -> None:
        conn = self._require()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        # quick_check reads every page: cheap for a cache of a few thousand rows, and it
        # turns silent page corruption into a clear error now instead of a wrong answer later.
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {check}")
        if version not in (0, SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"unknown cache schema version {version}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        with self._transaction():
            conn.execute(_SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise GeocodingError(f"geocode cache {self.path} is closed")
        return self._conn

    def _transaction(self) -> _Transaction:
        return _Transaction(self._require())

    def get(self, provider: str, query: str, *, region: str = "") -> CachedAnswer | None:
        """The stored answer, or None when never asked or the negative answer has expired."""
        conn = self._require()
        try:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM answers WHERE provider=? AND query=? AND region=?",
                (provider, normalise_query(query), region),
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc
        if row is None:
            return None
        try:
            answer = _from_row(row)
        except (ValueError, TypeError) as exc:
            self.reject(provider, query, region=region, why=str(exc))
            return None
        if not answer.found and self._expired(answer):
            return None
        return answer

    def reject(self, provider: str, query: str, *, region: str = "", why: str) -> None:
        """Count a stored answer as untrustworthy (it is asked again), and log why."""
        self._rejected.add((provider, normalise_query(query), region))
        logger.info("cache: ignored %s answer for %s: %s", provider, query, why)

    @property
    def rejected(self) -> int:
        """How many stored answers were found untrustworthy since the cache was opened."""
        return len(self._rejected)

    def _expired(self, answer: CachedAnswer) -> bool:
        if self.negative_ttl_s is None or answer.fetched_at is None:
            return False
        return self._clock() - answer.fetched_at > self.negative_ttl_s

    def put(self, answer: CachedAnswer) -> None:
        """Store (or replace) one answer in a single transaction; stamps ``fetched_at``."""
        fetched_at = answer.fetched_at if answer.fetched_at is not None else self._clock()
        raw = json.dumps(answer.raw, ensure_ascii=False, sort_keys=True) if answer.raw else None
        values = (
            answer.provider, normalise_query(answer.query), answer.region, int(answer.found),
            answer.lon, answer.lat, answer.label, answer.crs, answer.level,
            answer.uncertainty_m, answer.reason, raw, fetched_at,
        )  # fmt: skip
        conn = self._require()
        try:
            with self._transaction():
                conn.execute(
                    f"INSERT OR REPLACE INTO answers ({_COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc

    def __len__(self) -> int:
        count: int = self._require().execute("SELECT COUNT(*) FROM answers").fetchone()[0]
        return count

    def close(self) -> None:
        """Close the file; say how many stored answers were not trusted, if any."""
        if self.rejected:
            logger.warning(
                "%d answers in %s could not be trusted (unreadable, or outside the district); "
                "they were asked again",
                self.rejected,
                self.path,
            )
            self._rejected.clear()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> GeocodeCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception (including KeyboardInterrupt)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        # IMMEDIATE takes the write lock up front, so two processes sharing the cache
        # wait for each other (busy timeout) instead of failing half-way.
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._conn.execute("COMMIT")
        else:
            self._conn.execute("ROLLBACK")


def _from_row(row: tuple[Any, ...]) -> CachedAnswer:
    """The answer a row holds; ValueError or TypeError when it is not a valid one."""
    (provider, query, region, found, lon, lat, label, crs, level, unc, reason, raw, ts) = row
    if found not in (0, 1):
        raise ValueError(f"found is {found!r}, not 0 or 1")
    try:
        parsed = json.loads(raw) if raw is not None else None
    except RecursionError:
        raise ValueError("the raw answer nests too deeply") from None
    return CachedAnswer(
        provider=provider, query=query, found=bool(found), region=region, lon=lon, lat=lat,
        label=label, crs=crs, level=level, uncertainty_m=unc, reason=reason,
        raw=parsed, fetched_at=ts,
    )  # fmt: skip


def _check_number(value: Any, name: str, limit: float) -> None:
    """A finite number (not a bool, not text) of at most ``limit`` in size."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} is {value!r}, not a number")
    if not math.isfinite(value) or abs(value) > limit:
        raise ValueError(f"{name} {value!r} is out of range")
