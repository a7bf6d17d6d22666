"""The geocode cache: persistent, transactional, honest about a corrupt file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from luodian_map.cache import (
    NO_RESULT,
    OUTSIDE_DISTRICT,
    CachedAnswer,
    GeocodeCache,
    normalise_query,
)
from luodian_map.errors import GeocodingError

HIT = CachedAnswer.hit(
    "amap",
    "上海市宝山区罗店镇光明村",
    lon=121.351234,
    lat=31.412345,
    label="上海市宝山区罗店镇光明村",
    crs="gcj02",
    level="村庄",
    uncertainty_m=1000.0,
    raw={"location": "121.355,31.410", "level": "村庄"},
    region="r1",
)


def test_round_trip_survives_reopening(tmp_path):
    path = tmp_path / ".cache" / "geocode.sqlite"
    with GeocodeCache(path) as cache:
        cache.put(HIT)
    with GeocodeCache(path) as cache:
        got = cache.get("amap", "上海市宝山区罗店镇光明村", region="r1")
    assert got is not None and got.found
    assert (got.lon, got.lat, got.label, got.crs) == (HIT.lon, HIT.lat, HIT.label, "gcj02")
    assert (got.level, got.uncertainty_m, got.raw) == ("村庄", 1000.0, HIT.raw)
    assert got.fetched_at is not None


def test_key_is_provider_query_and_region(tmp_path):
    with GeocodeCache(tmp_path / "c.sqlite") as cache:
        cache.put(HIT)
        assert cache.get("baidu", HIT.query, region="r1") is None
        assert cache.get("amap", HIT.query, region="other") is None
        assert cache.get("amap", "上海市宝山区罗店镇王家村", region="r1") is None


def test_query_is_normalised():
    assert normalise_query("  罗店镇\u3000光明村 ") == "罗店镇 光明村"
    assert normalise_query("ＡＢ１") == "AB1"


def test_lookup_ignores_width_and_spacing(tmp_path):
    with GeocodeCache(tmp_path / "c.sqlite") as cache:
        cache.put(HIT)
        assert cache.get("amap", " 上海市宝山区罗店镇光明村\u3000", region="r1") is not None


def test_negative_answers_are_stored_and_expire(tmp_path):
    now = [1_000_000.0]
    path = tmp_path / "c.sqlite"
    with GeocodeCache(path, negative_ttl_s=3600, clock=lambda: now[0]) as cache:
        cache.put(CachedAnswer.miss("nominatim", "无名村", reason=NO_RESULT))
        cache.put(CachedAnswer.miss("amap", "光明村", reason=OUTSIDE_DISTRICT))
        cache.put(HIT)
        got = cache.get("amap", "光明村")
        assert got is not None and not got.found and got.reason == OUTSIDE_DISTRICT
        now[0] += 3601
        assert cache.get("nominatim", "无名村") is None  # expired: ask again
        assert cache.get("amap", HIT.query, region="r1") is not None  # found ones stay


def test_negative_answers_can_live_forever(tmp_path):
    now = [0.0]
    with GeocodeCache(tmp_path / "c.sqlite", negative_ttl_s=None, clock=lambda: now[0]) as c:
        c.put(CachedAnswer.miss("amap", "光明村", reason=NO_RESULT))
        now[0] = 1e12
        assert c.get("amap", "光明村") is not None


def test_answer_validation():
    with pytest.raises(ValueError):
        CachedAnswer("amap", "q", found=False, reason="because")
    with pytest.raises(ValueError):
        CachedAnswer("amap", "q", found=True)
    with pytest.raises(ValueError, match="lon"):
        CachedAnswer.hit("amap", "q", lon=float("nan"), lat=31.4, label="x", crs="gcj02")
    with pytest.raises(ValueError, match="lat"):
        CachedAnswer.hit("amap", "q", lon=121.4, lat=91.0, label="x", crs="gcj02")
    with pytest.raises(ValueError, match="raw"):
        CachedAnswer("amap", "q", True, lon=121.4, lat=31.4, raw=[1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("raw", "{not json"),
        ("raw", "[1, 2, 3]"),
        pytest.param("raw", "[" * 100_000, id="raw-deep"),  # deeper than json.loads can go
        ("raw", 42),
        ("lon", None),
        ("lon", "east"),  # text SQLite cannot take as a number
        ("lat", float("inf")),
        ("lat", 131.0),
        ("found", 2),
        ("uncertainty_m", -5.0),
        ("level", b"\x00"),  # a blob
        ("fetched_at", "yesterday"),
    ],
)
def test_a_row_that_is_no_valid_answer_is_ignored_and_counted(tmp_path, column, value):
    with GeocodeCache(tmp_path / "c.sqlite") as cache:
        cache.put(HIT)
        with sqlite3.connect(cache.path) as db:
            db.execute(f"UPDATE answers SET {column} = ?", (value,))
        assert cache.get("amap", HIT.query, region="r1") is None
        assert cache.get("amap", HIT.query, region="r1") is None
        assert cache.rejected == 1  # one row, however often it is asked for


def test_a_negative_row_with_an_unknown_reason_is_ignored(tmp_path):
    with GeocodeCache(tmp_path / "c.sqlite") as cache:
        cache.put(CachedAnswer.miss("amap", "光明村", reason=NO_RESULT))
        with sqlite3.connect(cache.path) as db:
            db.execute("UPDATE answers SET reason = 'because'")
        assert cache.get("amap", "光明村") is None and cache.rejected == 1


def test_a_caller_can_reject_an_answer_its_own_checks_refuse(tmp_path):
    with GeocodeCache(tmp_path / "c.sqlite") as cache:
        cache.reject("amap", "光明村", region="r1", why="outside the district")
        cache.reject("amap", " 光明村 ", region="r1", why="outside the district")
        cache.reject("amap", "王家村", region="r1", why="outside the district")
        assert cache.rejected == 2


def test_file_uses_wal(tmp_path):
    path = tmp_path / "c.sqlite"
    with GeocodeCache(path) as cache:
        cache.put(HIT)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_corrupt_file_is_a_one_line_error_naming_the_file(tmp_path):
    path = tmp_path / "geocode.sqlite"
    path.write_bytes(b"this is not a database, just text that looks nothing like SQLite" * 50)
    with pytest.raises(GeocodingError) as info:
        GeocodeCache(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message and "delete" in message


def test_damaged_pages_are_detected(tmp_path):
    path = tmp_path / "geocode.sqlite"
    with GeocodeCache(path) as cache:
        for i in range(300):
            cache.put(CachedAnswer.miss("amap", f"村{i:04d}" * 20, reason=NO_RESULT))
    conn = sqlite3.connect(path)  # fold the WAL into the main file, then damage it
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    data[4096 + 100 : 4096 * 3] = b"\xff" * (4096 * 2 - 100)
    path.write_bytes(bytes(data))
    with pytest.raises(GeocodingError, match="delete it"):
        GeocodeCache(path)


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "geocode.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(GeocodingError, match="schema version 99"):
        GeocodeCache(path)


def test_closed_cache_refuses_use(tmp_path):
    cache = GeocodeCache(tmp_path / "c.sqlite")
    cache.close()
    cache.close()  # idempotent
    with pytest.raises(GeocodingError, match="closed"):
        cache.get("amap", "x")


def test_crash_during_a_write_leaves_the_previous_state(tmp_path):
    """Kill the process between the INSERT and its COMMIT: the cache must not change."""
    path = tmp_path / "geocode.sqlite"
    with GeocodeCache(path) as cache:
        cache.put(HIT)
    script = textwrap.dedent(
        f"""
        import os
        from luodian_map.cache import CachedAnswer, GeocodeCache
        cache = GeocodeCache({str(path)!r})
        def die_at_commit(statement):
            if statement.strip().upper().startswith("COMMIT"):
                os._exit(3)
        cache._conn.set_trace_callback(die_at_commit)
        cache.put(CachedAnswer.hit("amap", "半路", lon=1.0, lat=2.0, label="x", crs="gcj02"))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == 3, done.stderr.decode()
    with GeocodeCache(path) as cache:
        assert cache.get("amap", "半路") is None
        assert cache.get("amap", HIT.query, region="r1") is not None
        assert len(cache) == 1
