"""``luodian-map export``: a real PostgreSQL + PostGIS on 127.0.0.1, and GeoParquet read
back by geopandas and by DuckDB's spatial extension."""

from __future__ import annotations

import json
import os
import pathlib

import geopandas as gpd
import numpy as np
import pytest
import shapely

import postgres
from conftest import make_features
from luodian_map.cli import main
from luodian_map.errors import LuodianMapError
from luodian_map.layers import read_layers, write_layers

IN_CI = bool(os.environ.get("CI"))


def _need(reason: str | None) -> None:
    """Fail in CI, skip elsewhere, when a part the tests need is missing."""
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI must install it: see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg():
    _need(postgres.missing())
    server = postgres.start()
    yield server
    server.stop()


def _features() -> gpd.GeoDataFrame:
    """The map fixture's features as the geocoder gives them (quantities as lists)."""
    features = make_features()
    features["quantities"] = [
        json.loads(q) if isinstance(q, str) else q for q in features["quantities"]
    ]
    return features


@pytest.fixture
def layers(tmp_path):
    directory = tmp_path / "layers"
    write_layers(_features(), directory)
    return directory


def _read_table(url: str, schema: str = "luodian_map") -> gpd.GeoDataFrame:
    from sqlalchemy import create_engine

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            return gpd.read_postgis(
                f"SELECT * FROM {schema}.features ORDER BY id", connection, geom_col="geom"
            )
    finally:
        engine.dispose()


def _query(url: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute(sql).fetchall()


def _values(column) -> list:
    """A column as plain values, every kind of missing value as None."""
    values = column.astype(object)
    return values.where(values.notna(), None).tolist()


def _assert_same_features(table: gpd.GeoDataFrame, expected: gpd.GeoDataFrame) -> None:
    """The rows of ``table`` are exactly the features, property by property."""
    expected = expected.sort_values("id").reset_index(drop=True)
    assert table["id"].tolist() == expected["id"].tolist()
    for column in ("name", "category", "status", "quote", "precision", "town", "follow_up"):
        assert _values(table[column]) == _values(expected[column]), column
    assert table["year"].tolist() == expected["year"].tolist()
    assert table["quantities"].tolist() == expected["quantities"].tolist()
    assert table["mentions"].tolist() == expected["mentions"].tolist()
    assert np.allclose(
        table["uncertainty_m"].astype(float), expected["uncertainty_m"].astype(float),
        equal_nan=True,
    )  # fmt: skip
    assert table["aggregate"].tolist() == expected["aggregate"].astype(bool).tolist()
    same = shapely.equals_exact(
        np.asarray(table.geometry.values), np.asarray(expected.geometry.values), tolerance=0
    )
    missing = table.geometry.isna().to_numpy() & expected.geometry.isna().to_numpy()
    assert (same | missing).all()


def test_postgis_export_twice_gives_the_layers_features(pg, layers, capsys):
    url = pg.url()
    for _ in range(2):
        assert main(["export", "--layers", str(layers), "--postgis", url]) == 0
    assert "33 features → luodian_map.features" in capsys.readouterr().err
    table = _read_table(url)
    assert table.crs.to_epsg() == 4326
    _assert_same_features(table, read_layers(layers))
    assert table.geometry.isna().sum() == 1  # the unplaced feature keeps its row
    srids = _query(
        url, "SELECT DISTINCT ST_SRID(geom) FROM luodian_map.features WHERE geom IS NOT NULL"
    )
    assert srids == [(4326,)]
    assert _query(url, "SELECT Find_SRID('luodian_map', 'features', 'geom')") == [(4326,)]
    types = dict(
        _query(
            url,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'luodian_map' AND table_name = 'features'",
        )
    )
    assert types["year"] == "integer"
    assert types["stated_count"] == "integer"
    assert types["uncertainty_m"] == "double precision"
    assert types["aggregate"] == "boolean"
    assert types["quantities"] == types["mentions"] == "jsonb"
    assert types["name"] == "text"
    indexes = dict(
        _query(url, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'luodian_map'")
    )
    assert "USING gist (geom)" in indexes["features_geom_idx"]
    assert "UNIQUE" in indexes["features_pkey"] and "(id)" in indexes["features_pkey"]
    tables = _query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'luodian_map'")
    assert tables == [("features",)]  # no staging table left behind
    # JSONB is queryable as such
    (count,) = _query(
        url,
        "SELECT count(*) FROM luodian_map.features WHERE quantities @> "
        """'[{"unit": "亩", "value": 564}]'""",
    )[0]
    assert count == 1


def test_postgis_export_replaces_the_rows(pg, tmp_path):
    url = pg.url()
    features = _features()
    write_layers(features, tmp_path / "all")
    write_layers(features[features["category"] != "road"], tmp_path / "fewer")
    assert main(["export", "--layers", str(tmp_path / "all"), "--postgis", url]) == 0
    assert main(["export", "--layers", str(tmp_path / "fewer"), "--postgis", url]) == 0
    table = _read_table(url)
    assert "road" not in set(table["category"])
    _assert_same_features(table, read_layers(tmp_path / "fewer"))


def test_failed_postgis_export_leaves_the_previous_table(pg, layers):
    from luodian_map.export.postgis import export_postgis

    url = pg.url()
    assert main(["export", "--layers", str(layers), "--postgis", url, "--schema", "kept"]) == 0
    before = _read_table(url, "kept")
    broken = read_layers(layers)
    broken.loc[1, "id"] = broken.loc[0, "id"]  # the primary key fails after the rows are in
    broken.loc[0, "name"] = "不应写入"
    with pytest.raises(LuodianMapError, match="table is unchanged"):
        export_postgis(broken, url, schema="kept")
    after = _read_table(url, "kept")
    assert after.drop(columns="geom").equals(before.drop(columns="geom"))
    assert "不应写入" not in set(after["name"])
    assert _query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'kept'") == [
        ("features",)
    ]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("closed port", "cannot connect"),
        ("plain", "has no PostGIS extension (run CREATE EXTENSION postgis"),
        ("visitor", "no permission to write luodian_map.features"),
        ("not a url", "not a PostgreSQL URL"),
    ],
)
def test_postgis_errors_are_one_line(pg, layers, capsys, target, message):
    url = {
        "closed port": f"postgresql://postgres:secret@127.0.0.1:{postgres.free_port()}/luodian",
        "plain": pg.url("plain"),
        "visitor": pg.url(user="visitor"),
        "not a url": "postgresql://[::1",
    }[target]
    assert main(["export", "--layers", str(layers), "--postgis", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("luodian-map: error: ") and err.count("\n") == 1, err
    assert message in err
    assert "secret" not in err  # never the password


def test_export_needs_a_target_and_layers(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["export", "--layers", str(tmp_path)])
    assert stop.value.code == 2
    out = tmp_path / "x.parquet"
    assert main(["export", "--layers", str(tmp_path), "--geoparquet", str(out)]) == 2
    assert "no layers to export" in capsys.readouterr().err
    assert not out.exists()


# --- GeoParquet --------------------------------------------------------------------------


def test_geoparquet_reads_back_with_the_same_rows(layers, tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "out" / "luodian.parquet"
    assert main(["export", "--layers", str(layers), "--geoparquet", str(path)]) == 0
    first = path.read_bytes()
    assert main(["export", "--layers", str(layers), "--geoparquet", str(path)]) == 0
    assert path.read_bytes() == first  # deterministic bytes
    table = gpd.read_parquet(path)
    assert table.crs.to_epsg() == 4326
    table["quantities"] = table["quantities"].map(json.loads)
    table["mentions"] = table["mentions"].map(json.loads)
    table = table.rename_geometry("geom")
    _assert_same_features(table, read_layers(layers))
    assert str(table["year"].dtype) == "Int64" and str(table["category"].dtype) in (
        "string",
        "str",
    )
    year = gpd.read_parquet(path, filters=[("year", "=", 2024), ("category", "=", "park")])
    assert sorted(year["name"]) == ["罗店中心绿地", "美兰湖公园"]
    geo = json.loads(pq.read_schema(path).metadata[b"geo"])
    assert geo["version"] == "1.1.0"
    assert geo["primary_column"] == "geometry"
    column = geo["columns"]["geometry"]
    assert column["encoding"] == "WKB"
    assert column["crs"]["id"] == {"authority": "EPSG", "code": 4326}
    assert set(column["geometry_types"]) >= {"Point", "LineString", "Polygon", "MultiPolygon"}


def _duckdb_spatial():
    """A DuckDB connection with the spatial extension, loaded from its PyPI package (DuckDB
    would download it from its own servers, which this network does not reach)."""
    try:
        import duckdb
        import duckdb_extension_spatial
    except ImportError as error:
        _need(f"{error.name} not installed (pip install -e '.[test]')")
    found = sorted(
        pathlib.Path(duckdb_extension_spatial.__file__).parent.glob(
            f"extensions/v{duckdb.__version__}/spatial.duckdb_extension"
        )
    )
    if not found:
        _need(f"no spatial extension for DuckDB {duckdb.__version__} in duckdb-extension-spatial")
    connection = duckdb.connect()
    connection.execute(f"LOAD '{found[0]}'")
    return connection


def test_geoparquet_reads_in_duckdb_spatial(layers, tmp_path):
    path = tmp_path / "luodian.parquet"
    assert main(["export", "--layers", str(layers), "--geoparquet", str(path)]) == 0
    duck = _duckdb_spatial()
    rows = duck.execute(
        "SELECT id, category, year, ST_AsText(geometry), ST_GeometryType(geometry)::VARCHAR "
        "FROM read_parquet(?) ORDER BY id",
        [str(path)],
    ).fetchall()
    expected = read_layers(layers).sort_values("id")
    assert [r[0] for r in rows] == expected["id"].tolist()
    assert [r[2] for r in rows] == expected["year"].tolist()
    for (_, category, _, wkt, _), (_, feature) in zip(rows, expected.iterrows(), strict=True):
        assert category == feature["category"]
        if feature.geometry is None:
            assert wkt is None
        else:
            assert shapely.from_wkt(wkt).equals_exact(feature.geometry, 1e-9)
    # a spatial predicate and a partition-style filter, as an analyst would write them
    (near,) = duck.execute(
        "SELECT count(*) FROM read_parquet(?) WHERE category = 'park' AND year = 2024 "
        "AND ST_Intersects(geometry, ST_MakeEnvelope(121.32, 31.41, 121.34, 31.43))",
        [str(path)],
    ).fetchone()
    assert near == 1  # 美兰湖公园 2024
