"""GeoParquet: every feature in one file, for analysts' columnar tools (DuckDB, pandas, QGIS).

GeoParquet 1.1 metadata, WKB geometries in EPSG:4326, the feature properties as typed
columns (``quantities`` and ``mentions`` as JSON text), rows in id order. The ids begin
with the category, so each category's rows lie together and a reader filtering on
``category`` or ``year`` skips what it does not need. The same layers give the same bytes.
"""

from __future__ import annotations

import io
from pathlib import Path

import geopandas as gpd

from .._io import write_atomic
from ..layers import typed_frame

SCHEMA_VERSION = "1.1.0"


def export_geoparquet(features: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write ``features`` to the GeoParquet file ``path`` (atomically); return the path.

    Parameters
    ----------
    features
        The layers' features, e.g. from :func:`luodian_map.layers.read_layers`.
    path
        The file to write; its folder is created if needed.
    """
    buffer = io.BytesIO()
    typed_frame(features).to_parquet(
        buffer, index=False, compression="zstd", schema_version=SCHEMA_VERSION
    )
    return write_atomic(path, buffer.getvalue())
