"""Real positions: place files from OpenStreetMap, map services and planners' own GIS.

Every path that brings real geometry writes one *place file*,
``geodata/<town>/sources/<name>.geojson`` (see :mod:`luodian_map.places.sources`), and
every build reads them back offline: :func:`luodian_map.gazetteer.merge_sources` lays the
place files over the hand placements of the town's gazetteer, so a sourced or surveyed
feature replaces the guess of the same place.

``luodian-map places fetch --source osm|amap|tianditu`` and ``luodian-map places import
FILE`` are the commands; the modules here do the work.
"""
