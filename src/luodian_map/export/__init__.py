"""Exports of the layers to the stores GIS departments and analysts keep data in.

``postgis`` writes one table to a PostGIS database, ``geoparquet`` one GeoParquet file.
Both take the features as ``layers.read_layers`` gives them and type the columns as the
GeoPackage does (``layers.typed_frame``).
"""
