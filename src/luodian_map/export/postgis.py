"""PostGIS: the layers as one table, ``<schema>.features``, replaced in one transaction.

One table with a ``category`` column rather than one per category: every category has
the same properties, a category's geometries are of mixed types anyway (a village is a
point or a polygon), and a planner's questions cut across categories (what was planned
for 2025, in any category). One table has one GiST index, is replaced in one swap, and a
layer per category is ``WHERE category = 'road'`` (a view, or a QGIS filter), helped by
an index on ``(category, year)``.

Columns: the feature properties typed (text, integer, double precision, boolean;
``quantities`` and ``mentions`` JSONB), ``id`` the primary key, ``geom`` a
``geometry(Geometry, 4326)``. The rows are loaded with ``COPY`` into a staging table,
indexed, and renamed into place in the same transaction as the old table is dropped: a
reader sees the old rows or the new ones, and a failure anywhere leaves the old table as
it was. Exporting the same layers twice gives the same rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import shapely

from ..errors import LuodianMapError
from ..layers import PROPERTIES, plain_values, typed_frame

if TYPE_CHECKING:
    from psycopg import Connection

SCHEMA = "luodian_map"
TABLE = "features"
GEOMETRY_COLUMN = "geom"
JSON_COLUMNS = frozenset({"quantities", "mentions"})
_SQL_TYPES = {"Int64": "integer", "float64": "double precision", "bool": "boolean"}
CONNECT_TIMEOUT_S = 10


def export_postgis(features: gpd.GeoDataFrame, url: str, *, schema: str = SCHEMA) -> int:
    """Replace ``<schema>.features`` in the database at ``url`` with ``features``.

    Parameters
    ----------
    features
        The layers' features, e.g. from :func:`luodian_map.layers.read_layers`.
    url
        A libpq connection URL or string, ``postgresql://user:password@host:port/dbname``.
    schema
        The schema of the table, created if missing.

    Returns
    -------
    int
        The number of rows the table now holds.

    Raises
    ------
    LuodianMapError
        The database cannot be reached, has no PostGIS, or refuses the writes; nothing
        has changed in it then.
    """
    import psycopg

    frame = typed_frame(features)
    where = _describe(url)
    try:
        connection = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as error:
        raise LuodianMapError(f"{where}: cannot connect ({_first_line(error)})") from None
    try:
        with connection:
            _require_postgis(connection, where)
            with connection.transaction():
                _replace_table(connection, schema, frame)
    except psycopg.errors.InsufficientPrivilege as error:
        raise LuodianMapError(
            f"{where}: no permission to write {schema}.{TABLE} ({_first_line(error)})"
        ) from None
    except psycopg.Error as error:
        raise LuodianMapError(
            f"{where}: export to {schema}.{TABLE} failed, the table is unchanged "
            f"({_first_line(error)})"
        ) from None
    return len(frame)


def _describe(url: str) -> str:
    """The database as ``user@host:port/dbname``: never the password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(url)
    except Exception:  # psycopg raises several types for a malformed string
        raise LuodianMapError(f"{url!r}: not a PostgreSQL URL") from None
    user = f"{info['user']}@" if info.get("user") else ""
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{user}{info.get('host', '')}{port}/{info.get('dbname', '')}"


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _require_postgis(connection: Connection[Any], where: str) -> None:
    row = connection.execute(
        "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'postgis'), "
        "EXISTS (SELECT FROM pg_available_extensions WHERE name = 'postgis')"
    ).fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    enabled, available = row
    connection.rollback()
    if not enabled:
        how = (
            "run CREATE EXTENSION postgis as the database's owner"
            if available
            else "the server has no PostGIS installed"
        )
        raise LuodianMapError(f"{where}: the database has no PostGIS extension ({how})")


def _column_types(frame: gpd.GeoDataFrame) -> dict[str, str]:
    """Column → SQL type: JSONB for the lists, else by the frame's dtype (text otherwise)."""
    return {
        column: "jsonb"
        if column in JSON_COLUMNS
        else _SQL_TYPES.get(str(frame[column].dtype), "text")
        for column in PROPERTIES
    }


def _rows(frame: gpd.GeoDataFrame) -> list[tuple[Any, ...]]:
    """The rows as plain values (None where missing), geometries as hex EWKB."""
    geometries = shapely.set_srid(frame.geometry.values.to_numpy(), 4326)
    ewkb = shapely.to_wkb(geometries, hex=True, include_srid=True)
    columns = [plain_values(frame[column]) for column in PROPERTIES]
    return list(zip(*columns, ewkb.tolist(), strict=True))


def _replace_table(connection: Connection[Any], schema: str, frame: gpd.GeoDataFrame) -> None:
    """Load a staging table, index it, and put it in the place of the old one."""
    from psycopg import sql

    staging = f"{TABLE}_staging"
    table = sql.Identifier(schema, TABLE)
    staged = sql.Identifier(schema, staging)
    columns = [
        sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(kind))
        for column, kind in _column_types(frame).items()
    ]
    columns.append(sql.SQL("{} geometry(Geometry, 4326)").format(sql.Identifier(GEOMETRY_COLUMN)))
    names = sql.SQL(", ").join(map(sql.Identifier, [*PROPERTIES, GEOMETRY_COLUMN]))
    run = connection.execute
    run(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    run(sql.SQL("DROP TABLE IF EXISTS {}").format(staged))
    run(sql.SQL("CREATE TABLE {} ({})").format(staged, sql.SQL(", ").join(columns)))
    with (
        connection.cursor() as cursor,
        cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(staged, names)) as copy,
    ):
        for row in _rows(frame):
            copy.write_row(row)
    indexes = {
        "pkey": sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY (id)"),
        "geom_idx": sql.SQL("CREATE INDEX {} ON {} USING GIST (geom)"),
        "category_year_idx": sql.SQL("CREATE INDEX {} ON {} (category, year)"),
    }
    for suffix, statement in indexes.items():
        index = sql.Identifier(f"{staging}_{suffix}")
        args = (staged, index) if suffix == "pkey" else (index, staged)
        run(statement.format(*args))
    run(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
    run(sql.SQL("ALTER TABLE {} RENAME TO {}").format(staged, sql.Identifier(TABLE)))
    for suffix in indexes:
        run(
            sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(schema, f"{staging}_{suffix}"),
                sql.Identifier(f"{TABLE}_{suffix}"),
            )
        )
