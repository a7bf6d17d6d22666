"""luodian-map: from a town government work report to GeoJSON layers and web maps.

The pipeline is one stage per module (see docs/architecture.md): ``report`` → ``extract`` →
``geocode`` → ``layers`` / ``render`` / ``checks``. Heavy geospatial packages are only
imported by the stages that need them, so importing this package stays cheap.
"""

__version__ = "0.1.0"
