"""Errors a user can fix: the CLI prints their message on one line and exits 2."""


class LuodianMapError(Exception):
    """Base class for every error caused by input, configuration or environment."""


class InputError(LuodianMapError):
    """A file given to the tool cannot be used (empty, binary, undecodable, malformed)."""


class GeocodingError(LuodianMapError):
    """A geocoder or an overrides file failed in a way that must stop the run."""


class AssetsError(LuodianMapError):
    """Offline web assets needed for a self-contained map are missing."""
