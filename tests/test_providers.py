"""Online providers through the real geopy clients, against a local fake of each service."""

from __future__ import annotations

import json
import logging
import math
import shutil
import sqlite3
import subprocess
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import shapely

from fakegeo import FakeGeo, Place, answer, bad_key, body, drip, empty, flood, http, raw, slow
from luodian_map import crs
from luodian_map.cache import NO_RESULT, OUTSIDE_DISTRICT, GeocodeCache
from luodian_map.errors import GeocodingError
from luodian_map.gazetteer import GEODATA_DIR
from luodian_map.providers import (
    PROVIDERS,
    OnlineGeocoder,
    answer_uncertainty,
    city_hint,
    make_provider,
    with_context,
)

REPORT = (
    Path(__file__).resolve().parents[1] / "geodata" / "reports" / "luodian_2024_work_report.txt"
)
# One report line naming two companies no gazetteer holds, so they are asked online.
SMALL_REPORT_LINE = (
    "新旧动能加快转换。积极培育和发展新质生产力,银诺生物、泽德曼医药等一批项目相继签约落地。"
)

# A simple box around Baoshan district (WGS-84), as the district polygon.
DISTRICT = shapely.box(121.25, 31.28, 121.53, 31.52)
CONTEXT = "上海市宝山区罗店镇"
# A known WGS-84 point in Luodian, and a 光明村 in another province.
KNOWN = (121.356123, 31.402456)
ELSEWHERE = (114.301, 30.596)  # Wuhan, Hubei

KEYS = {"AMAP_KEY": "amap-test-key", "BAIDU_MAP_AK": "baidu-test-ak", "TIANDITU_KEY": "tdt-test"}
TO_PROVIDER_DATUM = {
    "nominatim": lambda lon, lat: (lon, lat),
    "arcgis": lambda lon, lat: (lon, lat),
    "tianditu": lambda lon, lat: (lon, lat),
    "amap": crs.wgs84_to_gcj02,
    "baidu": crs.wgs84_to_bd09,
}
FROM_PROVIDER_DATUM = {
    "nominatim": lambda lon, lat: (lon, lat),
    "arcgis": lambda lon, lat: (lon, lat),
    "tianditu": lambda lon, lat: (lon, lat),
    "amap": crs.gcj02_to_wgs84,
    "baidu": crs.bd09_to_wgs84,
}


@pytest.fixture(autouse=True)
def _environment(monkeypatch):
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake():
    with FakeGeo() as server:
        yield server


@pytest.fixture
def cache(tmp_path):
    with GeocodeCache(tmp_path / ".cache" / "geocode.sqlite") as c:
        yield c


def online(fake, provider, cache=None, **kwargs):
    options = {"timeout": 2.0, "min_delay_seconds": 0.0, "backoff_seconds": 0.01}
    options.update(kwargs)
    return OnlineGeocoder(
        provider, district=DISTRICT, cache=cache, domain=fake.domain, scheme="http", **options
    )


def in_datum(provider, lon, lat, label="罗店镇光明村", level=None):
    x, y = TO_PROVIDER_DATUM[provider](np.array([lon]), np.array([lat]))
    return Place(float(np.asarray(x)[0]), float(np.asarray(y)[0]), label, level)


def metres(a, b):
    """Haversine distance between two (lon, lat) points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


# -- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "env"), [("amap", "AMAP_KEY"), ("baidu", "BAIDU_MAP_AK"),
                                           ("tianditu", "TIANDITU_KEY")])  # fmt: skip
def test_missing_key_says_which_variable(monkeypatch, name, env):
    monkeypatch.delenv(env)
    with pytest.raises(GeocodingError) as info:
        make_provider(name)
    assert str(info.value) == f"{name}: set {env} to use this provider"


def test_unknown_provider_lists_the_valid_ones():
    with pytest.raises(GeocodingError) as info:
        make_provider("google")
    assert all(name in str(info.value) for name in PROVIDERS)


def test_context_is_added_once():
    assert with_context("光明村", CONTEXT) == "上海市宝山区罗店镇光明村"
    assert with_context("罗店镇光明村", CONTEXT) == "上海市宝山区罗店镇光明村"
    assert with_context("宝山区罗店镇光明村", CONTEXT) == "上海市宝山区罗店镇光明村"
    assert with_context("上海市宝山区罗店镇光明村", CONTEXT) == "上海市宝山区罗店镇光明村"
    assert with_context(" 美兰湖 ", "") == "美兰湖"


# -- requests as each service documents them -------------------------------------------------


def test_nominatim_is_bounded_to_the_viewbox(fake):
    online(fake, "nominatim").geocode("光明村", context=CONTEXT)
    (request,) = fake.requests
    assert request.query == "上海市宝山区罗店镇光明村"
    assert request.params["viewbox"] == "121.25,31.28,121.53,31.52"
    assert request.params["bounded"] == "1"
    assert request.params["countrycodes"] == "cn"
    assert request.params["format"] == "json"
    assert request.headers["User-Agent"].startswith("luodian-map/")


def test_nominatim_viewbox_can_be_the_town(fake):
    online(fake, "nominatim", viewbox=(121.30, 31.38, 121.41, 31.46)).geocode(
        "光明村", context=CONTEXT
    )
    assert fake.requests[0].params["viewbox"] == "121.3,31.38,121.41,31.46"


def test_amap_sends_key_city_and_address(fake):
    online(fake, "amap", city="310113").geocode("光明村", context=CONTEXT)
    (request,) = fake.requests
    assert request.params == {
        "key": "amap-test-key",
        "address": "上海市宝山区罗店镇光明村",
        "output": "JSON",
        "city": "310113",
    }


def test_without_a_city_hint_amap_is_sent_none(fake):
    """No town constant in code: a geocoder told no area sends none (the district check
    still bounds the answers)."""
    online(fake, "amap").geocode("光明村", context="宝山区罗店镇")
    (request,) = fake.requests
    assert "city" not in request.params and request.query == "宝山区罗店镇光明村"
    online(fake, "amap").geocode("光明村")
    assert fake.requests[1].query == "光明村"


def test_the_city_hint_is_the_adcode_of_a_district_code():
    assert city_hint("310113000000") == "310113"
    assert city_hint("330106000000") == "330106"
    assert [city_hint(c) for c in (None, "", "310113", "31011300000x")] == [None] * 4


def test_baidu_and_tianditu_send_their_keys(fake):
    online(fake, "baidu").geocode("光明村", context=CONTEXT)
    online(fake, "tianditu").geocode("光明村", context=CONTEXT)
    baidu, tianditu = fake.requests
    assert baidu.path == "/geocoding/v3/" and baidu.params["ak"] == "baidu-test-ak"
    assert baidu.params["address"] == "上海市宝山区罗店镇光明村"
    assert tianditu.params["tk"] == "tdt-test"
    assert json.loads(tianditu.params["ds"]) == {"keyWord": "上海市宝山区罗店镇光明村"}


# -- answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_answer_comes_back_in_wgs84(fake, provider):
    served = in_datum(provider, *KNOWN, label="罗店镇光明村")
    fake.script("光明村", answer(served))
    got = online(fake, provider).geocode("光明村", context=CONTEXT)
    assert got is not None
    assert (got.provider, got.precision, got.query) == (provider, "sourced", CONTEXT + "光明村")
    assert metres((got.lon, got.lat), KNOWN) < 1.0
    expected = FROM_PROVIDER_DATUM[provider](np.array([served.lon]), np.array([served.lat]))
    assert metres((got.lon, got.lat), (float(expected[0][0]), float(expected[1][0]))) < 1.0
    if provider in ("amap", "baidu"):  # the raw answer really was offset
        assert metres((served.lon, served.lat), KNOWN) > 100
    assert got.uncertainty_m > 0


def test_outside_district_is_rejected_logged_and_cached(fake, cache, caplog):
    fake.script("光明村", answer(in_datum("amap", *ELSEWHERE, label="湖北省武汉市光明村")))
    geocoder = online(fake, "amap", cache=cache)
    with caplog.at_level(logging.INFO, logger="luodian_map.geocode"):
        assert geocoder.geocode("光明村", context=CONTEXT) is None
    (record,) = [r for r in caplog.records if "rejected" in r.getMessage()]
    assert record.name == "luodian_map.geocode"
    assert "光明村" in record.getMessage() and "湖北省武汉市光明村" in record.getMessage()
    stored = cache.get("amap", CONTEXT + "光明村", region=geocoder._region)
    assert stored is not None and not stored.found and stored.reason == OUTSIDE_DISTRICT
    assert geocoder.geocode("光明村", context=CONTEXT) is None
    assert len(fake.requests) == 1


def test_first_candidate_inside_the_district_wins(fake, caplog):
    fake.script(
        "王家村",
        answer(Place(*ELSEWHERE, "湖北省王家村"), Place(*KNOWN, "罗店镇王家村", "hamlet")),
    )
    with caplog.at_level(logging.WARNING, logger="luodian_map.geocode"):
        got = online(fake, "nominatim").geocode("王家村", context=CONTEXT)
    assert got is not None and got.label == "罗店镇王家村" and got.level == "hamlet"
    assert any("湖北省王家村" in r.getMessage() for r in caplog.records)


def test_empty_answers_are_cached_as_negative(fake, cache):
    fake.script("无名村", empty())
    geocoder = online(fake, "baidu", cache=cache)  # Baidu's "无相关结果" is not an error
    assert geocoder.geocode("无名村", context=CONTEXT) is None
    assert online(fake, "baidu", cache=cache).geocode("无名村", context=CONTEXT) is None
    assert len(fake.requests) == 1
    stored = cache.get("baidu", CONTEXT + "无名村", region=geocoder._region)
    assert stored is not None and stored.reason == NO_RESULT


def test_positive_answers_are_cached_with_the_source_datum(fake, cache):
    fake.script("光明村", answer(in_datum("baidu", *KNOWN)))
    first = online(fake, "baidu", cache=cache).geocode("光明村", context=CONTEXT)
    again = online(fake, "baidu", cache=cache).geocode("光明村", context=CONTEXT)
    assert (again.from_cache, first.from_cache) == (True, False)
    assert replace(again, from_cache=False) == first and len(fake.requests) == 1
    stored = cache.get("baidu", CONTEXT + "光明村", region=online(fake, "baidu")._region)
    assert stored.crs == "bd09" and stored.raw["level"] == "村庄"


def test_cache_hits_make_no_request_and_skip_the_rate_limit(fake, cache):
    fake.script("光明村", answer(Place(*KNOWN)))
    geocoder = online(fake, "nominatim", cache=cache, min_delay_seconds=1.0)
    assert geocoder.geocode("光明村", context=CONTEXT) is not None
    start = time.perf_counter()
    for _ in range(50):
        assert geocoder.geocode("光明村", context=CONTEXT) is not None
    elapsed = time.perf_counter() - start
    assert len(fake.requests) == 1
    assert elapsed < 0.25, f"50 cached lookups took {elapsed:.2f} s"


def test_network_calls_are_spaced_by_the_rate_limit(fake):
    geocoder = online(fake, "amap", min_delay_seconds=0.2)
    start = time.perf_counter()
    geocoder.geocode("甲村", context=CONTEXT)
    geocoder.geocode("乙村", context=CONTEXT)
    assert time.perf_counter() - start >= 0.19
    assert len(fake.requests) == 2


def test_arcgis_answers_stay_out_of_the_disk_cache(fake, cache):
    fake.script("美兰湖", answer(Place(*KNOWN, "Meilan Lake", "POI")))
    geocoder = online(fake, "arcgis", cache=cache)
    got = geocoder.geocode("美兰湖", context=CONTEXT)
    assert got is not None and got.uncertainty_m == 150
    assert geocoder.geocode("美兰湖", context=CONTEXT) == got
    assert len(fake.requests) == 1 and len(cache) == 0
    assert fake.requests[0].params["outFields"] == "Addr_type"


# -- failures ----------------------------------------------------------------------------------


def test_timeouts_are_retried_then_reported_on_one_line(fake):
    fake.script("光明村", slow(1.5))
    geocoder = online(fake, "nominatim", timeout=0.2, max_tries=3)
    with pytest.raises(GeocodingError) as info:
        geocoder.geocode("光明村", context=CONTEXT)
    assert str(info.value) == "nominatim: no answer after 3 tries (timed out after 0.2 s)"
    assert len(fake.requests) == 3


def test_429_then_ok_succeeds_after_back_off(fake, caplog):
    fake.script("光明村", http(429), answer(in_datum("amap", *KNOWN)))
    with caplog.at_level(logging.INFO, logger="luodian_map.geocode"):
        got = online(fake, "amap").geocode("光明村", context=CONTEXT)
    assert got is not None and metres((got.lon, got.lat), KNOWN) < 1.0
    assert len(fake.requests) == 2
    assert any("HTTP 429" in r.getMessage() for r in caplog.records)


def test_retry_after_is_honoured_up_to_the_cap(fake):
    fake.script("光明村", http(429, retry_after="1"), answer(Place(*KNOWN)))
    geocoder = online(fake, "nominatim", max_backoff_seconds=0.3)
    start = time.perf_counter()
    assert geocoder.geocode("光明村", context=CONTEXT) is not None
    assert 0.29 <= time.perf_counter() - start < 0.9


def test_server_errors_are_retried(fake):
    fake.script("甲村", http(500), http(503), answer(Place(*KNOWN)))
    fake.script("乙村", http(500))
    geocoder = online(fake, "tianditu")
    assert geocoder.geocode("甲村", context=CONTEXT) is not None
    with pytest.raises(GeocodingError, match=r"^tianditu: no answer after 3 tries \(HTTP 500\)$"):
        geocoder.geocode("乙村", context=CONTEXT)
    assert len(fake.requests) == 6


@pytest.mark.parametrize(("provider", "env"), [("amap", "AMAP_KEY"), ("baidu", "BAIDU_MAP_AK"),
                                               ("tianditu", "TIANDITU_KEY")])  # fmt: skip
def test_bad_key_fails_at_once_naming_the_variable(fake, provider, env):
    fake.script("光明村", bad_key())
    with pytest.raises(GeocodingError) as info:
        online(fake, provider).geocode("光明村", context=CONTEXT)
    message = str(info.value)
    assert message.startswith(f"{provider}: the service refused the request")
    assert message.endswith(f"check {env}") and "\n" not in message
    assert len(fake.requests) == 1  # a rejected key is not retried


def test_amap_quota_fails_at_once_but_its_rate_limit_is_retried(fake):
    quota = {"status": "0", "info": "DAILY_QUERY_OVER_LIMIT", "infocode": "10003"}
    too_fast = {"status": "0", "info": "ACCESS_TOO_FREQUENT", "infocode": "10004"}
    fake.script("甲村", body(quota))
    fake.script("乙村", body(too_fast), answer(in_datum("amap", *KNOWN)))
    geocoder = online(fake, "amap")
    with pytest.raises(GeocodingError) as info:
        geocoder.geocode("甲村", context=CONTEXT)
    assert str(info.value) == "amap: quota exceeded (DAILY_QUERY_OVER_LIMIT (infocode 10003))"
    assert geocoder.geocode("乙村", context=CONTEXT) is not None
    assert len(fake.requests) == 3


# -- batches and uncertainty -------------------------------------------------------------------


def test_geocode_many_keeps_order_and_skips_repeats(fake, capsys):
    fake.script("甲村", answer(in_datum("amap", *KNOWN)))
    result = online(fake, "amap").geocode_many(["乙村", "甲村", "乙村"])
    assert list(result) == ["乙村", "甲村"]
    assert result["乙村"] is None and result["甲村"] is not None
    assert len(fake.requests) == 2
    assert capsys.readouterr().err == ""  # short run: no progress bar
    online(fake, "amap").geocode_many([f"村{i}" for i in range(12)])
    assert capsys.readouterr().err == ""  # long run, but stderr is not a terminal


def test_uncertainty_follows_what_the_provider_says():
    assert answer_uncertainty("amap", {"level": "门址"}) == ("门址", 50)
    # floats, as the cache gives them back (a rebuild must not write 50.0 for 50)
    assert type(answer_uncertainty("amap", {"level": "门址"})[1]) is float
    assert type(answer_uncertainty("arcgis", {"attributes": {"Addr_type": "POI"}})[1]) is float
    assert answer_uncertainty("amap", {"level": "村庄"}) == ("村庄", 1000)
    assert answer_uncertainty("amap", {"level": "乡镇"}) == ("乡镇", 4000)
    assert answer_uncertainty("tianditu", {"level": "新东西"}) == ("新东西", 2000)
    # Baidu: the documented confidence error, but never less than the level's extent
    assert answer_uncertainty("baidu", {"level": "门址", "confidence": 80}) == ("门址", 100)
    assert answer_uncertainty("baidu", {"level": "村庄", "confidence": 100}) == ("村庄", 1000)
    assert answer_uncertainty("baidu", {"level": "道路", "confidence": 30}) == ("道路", 5000)
    assert answer_uncertainty("arcgis", {"attributes": {"Addr_type": "PointAddress"}})[1] == 30
    box = {"type": "village", "boundingbox": ["31.395", "31.405", "121.35", "121.36"]}
    level, radius = answer_uncertainty("nominatim", box)
    assert level == "village" and 700 < radius < 800


# -- what a server may send --------------------------------------------------------------------

MAX_REPLY_BYTES = 4 * 2**20  # the documented cap (providers.MAX_REPLY_BYTES)

WRONG_SHAPE = {
    "nominatim": {"foo": [1, 2, 3]},
    "amap": {"status": "1", "info": "OK", "geocodes": {"foo": [1, 2, 3]}},
    "baidu": {"status": 0, "result": {"foo": [1, 2, 3]}},
    "arcgis": {"foo": [1, 2, 3]},
    "tianditu": {"status": "0", "location": {"lon": [1, 2, 3], "lat": "31.4"}},
}
NAN_COORDINATES = {
    "nominatim": [{"lat": "NaN", "lon": "121.4", "display_name": "光明村"}],
    "amap": {"status": "1", "info": "OK", "geocodes": [{"location": "NaN,NaN", "level": "村庄"}]},
    "baidu": {"status": 0, "result": {"location": {"lng": "NaN", "lat": "NaN"}}},
    "arcgis": {"candidates": [{"address": "光明村", "location": {"x": "NaN", "y": "NaN"}}]},
    "tianditu": {"status": "0", "location": {"lon": "NaN", "lat": "31.4"}},
}


def unusable(fake, provider, reply, cache=None, **kwargs):
    """The one-line error a provider's reply gives, after checking nothing was cached."""
    fake.script("光明村", reply)
    with pytest.raises(GeocodingError) as info:
        online(fake, provider, cache=cache, **kwargs).geocode("光明村", context=CONTEXT)
    message = str(info.value)
    assert "\n" not in message and len(message) < 300
    assert cache is None or len(cache) == 0  # an unusable reply is not a negative answer
    return message


@pytest.mark.parametrize("provider", sorted(WRONG_SHAPE))
def test_a_reply_of_the_wrong_shape_is_one_error_line(fake, cache, provider):
    message = unusable(fake, provider, body(WRONG_SHAPE[provider]), cache)
    assert message.startswith(f"{provider}: unusable reply: not in the documented shape (")
    assert len(fake.requests) == 1  # not retried: the same server says the same again


@pytest.mark.parametrize("provider", sorted(NAN_COORDINATES))
def test_nan_coordinates_are_an_unusable_reply(fake, cache, provider):
    message = unusable(fake, provider, body(NAN_COORDINATES[provider]), cache)
    assert message.startswith(f"{provider}: unusable reply: not in the documented shape (")


def test_nan_and_infinity_literals_are_not_json(fake):
    reply = raw(b'[{"lat": NaN, "lon": Infinity, "display_name": "x"}]')
    message = unusable(fake, "nominatim", reply)
    assert message.startswith("nominatim: unusable reply: not JSON (NaN is not a JSON number")


def test_a_reply_nested_too_deeply_is_one_error_line(fake, cache):
    message = unusable(fake, "nominatim", raw(b"[" * 200_000), cache)
    assert message == "nominatim: unusable reply: JSON nested too deeply"


def test_a_huge_reply_is_not_read_into_memory(fake):
    tracemalloc.start()
    try:
        message = unusable(fake, "nominatim", flood(4 * MAX_REPLY_BYTES))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message == "nominatim: unusable reply: more than 4 MiB; not read further"
    assert peak < 3 * MAX_REPLY_BYTES, f"{peak / 2**20:.0f} MiB used"


def test_a_reply_announcing_its_huge_size_is_refused_unread(fake):
    message = unusable(fake, "amap", raw(b" " * (MAX_REPLY_BYTES + 1)))
    assert message == "amap: unusable reply: 4 MiB announced, more than 4 MiB"


@pytest.mark.parametrize("headers", [False, True], ids=["body", "headers"])
def test_the_timeout_is_a_deadline_for_a_server_that_drips(fake, headers):
    """One byte every 0.1 s for 4 s: no single read waits 0.5 s, the request must not last."""
    fake.script("光明村", drip(0.1, seconds=4.0, headers=headers))
    geocoder = online(fake, "nominatim", timeout=0.5, max_tries=2)
    start = time.perf_counter()
    with pytest.raises(GeocodingError) as info:
        geocoder.geocode("光明村", context=CONTEXT)
    elapsed = time.perf_counter() - start
    assert str(info.value) == "nominatim: no answer after 2 tries (timed out after 0.5 s)"
    assert len(fake.requests) == 2 and elapsed < 2.0, f"{elapsed:.1f} s"


# -- the cache is not trusted ------------------------------------------------------------------

BEIJING = (116.397, 39.909)


def test_a_cached_answer_outside_the_district_is_asked_again(fake, cache):
    fake.script("光明村", answer(Place(*KNOWN)))
    geocoder = online(fake, "nominatim", cache=cache)
    first = geocoder.geocode("光明村", context=CONTEXT)
    with sqlite3.connect(cache.path) as db:  # someone's edit, or another district's answer
        db.execute("UPDATE answers SET lon = ?, lat = ?", BEIJING)
    again = online(fake, "nominatim", cache=cache).geocode("光明村", context=CONTEXT)
    assert again == first and not again.from_cache
    assert len(fake.requests) == 2 and cache.rejected == 1
    stored = cache.get("nominatim", CONTEXT + "光明村", region=geocoder._region)
    assert (stored.lon, stored.lat) == KNOWN  # the fresh answer replaced the bad row


@pytest.mark.parametrize(
    ("column", "value"),
    [("raw", "{not json"), ("raw", "[1, 2]"), pytest.param("raw", "[" * 100_000, id="raw-deep"),
     ("lon", None), ("lon", "east"), ("lat", float("nan")), ("found", 7),
     ("uncertainty_m", "far")],
)  # fmt: skip
def test_an_unreadable_cached_answer_is_asked_again(fake, cache, column, value):
    fake.script("光明村", answer(in_datum("amap", *KNOWN)))
    first = online(fake, "amap", cache=cache).geocode("光明村", context=CONTEXT)
    with sqlite3.connect(cache.path) as db:
        db.execute(f"UPDATE answers SET {column} = ?", (value,))
    again = online(fake, "amap", cache=cache).geocode("光明村", context=CONTEXT)
    assert again == first and len(fake.requests) == 2 and cache.rejected == 1


def test_a_cached_negative_answer_with_an_unknown_reason_is_asked_again(fake, cache):
    fake.script("无名村", empty())
    assert online(fake, "baidu", cache=cache).geocode("无名村", context=CONTEXT) is None
    with sqlite3.connect(cache.path) as db:
        db.execute("UPDATE answers SET reason = 'because'")
    fake.script("无名村", answer(in_datum("baidu", *KNOWN)))
    got = online(fake, "baidu", cache=cache).geocode("无名村", context=CONTEXT)
    assert got is not None and cache.rejected == 1 and len(fake.requests) == 2


def test_a_cached_poi_is_judged_by_its_name_again(fake, cache):
    fake.script("罗店医院", answer(in_datum("amap", *KNOWN, label="罗店医院")))
    options = {"cache": cache, "accept": lambda name, location: location.address == name}
    assert online(fake, "amap_poi", **options).geocode("罗店医院") is not None
    with sqlite3.connect(cache.path) as db:
        db.execute("UPDATE answers SET label = '罗店医院停车场'")
    got = online(fake, "amap_poi", **options).geocode("罗店医院")
    assert got is not None and got.label == "罗店医院" and cache.rejected == 1


# -- the command line: provenance, poisoned caches, the town's own area --------------------------


def test_a_build_sends_the_towns_area_and_a_rebuild_is_identical_whatever_the_cache(tmp_path, fake):
    """Three builds with AMap: cold, warm, then with every cached answer poisoned.

    The town's gazetteer says its district is 330106 (not Baoshan's code): AMap is asked
    within that area, with the district's name as context. Every build writes the same
    layers, and the poisoned one says so in one warning line.
    """
    town = tmp_path / "geodata" / "luodian"
    shutil.copytree(GEODATA_DIR, town)
    gazetteer = town / "gazetteer.geojson"
    text = gazetteer.read_text("utf-8")
    assert text.count('"code":"310113000000"') == 1
    gazetteer.write_text(text.replace('"code":"310113000000"', '"code":"330106000000"'), "utf-8")
    report = tmp_path / "report.txt"
    head = REPORT.read_text("utf-8").splitlines()[:11]
    report.write_text("\n".join([*head, SMALL_REPORT_LINE]) + "\n", "utf-8")
    fake.script("", answer(in_datum("amap", *KNOWN, label="罗店镇某地", level="兴趣点")))

    def build() -> tuple[subprocess.CompletedProcess[str], dict[str, bytes]]:
        done = subprocess.run(
            [sys.executable, "-m", "luodian_map.cli", "build", str(report), "--no-maps",
             "--provider", "amap", "--provider-url", f"http://{fake.domain}"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done, {p.name: p.read_bytes() for p in sorted((tmp_path / "layers").iterdir())}

    _, layers = build()
    asked = fake.requests_for("amap")
    assert len(asked) >= 2
    assert {r.params["city"] for r in asked} == {"330106"}
    assert all(r.query.startswith("宝山区罗店镇") for r in asked)
    features = json.loads(layers["industry.geojson"])["features"]
    assert {f["properties"]["geocoder"] for f in features} == {"amap"}

    warm, again = build()
    assert len(fake.requests_for("amap")) == len(asked)  # all from the cache
    assert again == layers and "warning" not in warm.stderr

    with sqlite3.connect(tmp_path / ".cache" / "geocode.sqlite") as db:
        rows = db.execute("SELECT query FROM answers WHERE found = 1 ORDER BY query").fetchall()
        db.execute("UPDATE answers SET lon = ?, lat = ?", BEIJING)
        db.execute("UPDATE answers SET raw = '{oops' WHERE query = ?", rows[0])
    poisoned, after = build()
    assert after == layers  # nothing in Beijing, and the same layers
    warnings = [line for line in poisoned.stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"luodian-map: warning: {len(rows)} answers in .cache/geocode.sqlite could not be "
        "trusted (unreadable, or outside the district); they were asked again"
    ]
    assert len(fake.requests_for("amap")) == len(asked) + len(rows)
