"""Offline web assets for self-contained maps: fetched once from npm, inlined at render time.

Folium points its pages at CDNs (jsdelivr, cdnjs, code.jquery.com, ...). A self-contained
map must carry every script, stylesheet and image inside the HTML file instead. We do not
ship third-party minified code in the repository: :func:`fetch_assets` downloads exactly the
package versions that folium references, as the npm registry publishes them, verifies each
tarball against the registry's ``dist.integrity`` (or ``shasum``), and keeps the files the
page needs in a cache directory with a manifest. Rendering never touches the network:
:func:`inline_assets` reads the cache and raises :class:`~luodian_map.errors.AssetsError`
when it is missing.

Cache layout (``~/.cache/luodian-map/assets`` unless ``LUODIAN_MAP_ASSETS`` says otherwise)::

    manifest.json                       {"format": 2, "packages": {...}, "urls": {...}}
    npm/leaflet@1.9.3/dist/leaflet.js   files as they sit in the npm tarball's package/
    npm/leaflet@1.9.3/dist/images/...   images the stylesheets reference

``urls`` maps each CDN URL folium writes to the cached file that replaces it; every cached
file carries its sha256 so a damaged cache is detected instead of silently inlined.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import tarfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .._io import write_atomic
from ..errors import AssetsError
from .urls import page_asset_urls

ENV_CACHE = "LUODIAN_MAP_ASSETS"
ENV_REGISTRY = "LUODIAN_MAP_NPM_REGISTRY"
DEFAULT_REGISTRY = "https://registry.npmjs.org"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 2
MISSING_MESSAGE = "web assets for --self-contained are missing: run `luodian-map assets`"

# cdnjs and GitHub (jsdelivr /gh/) names of libraries whose npm package is called otherwise.
_CDNJS_TO_NPM = {
    "leaflet.draw": "leaflet-draw",
    "leaflet-minimap": "leaflet-minimap",
    "leaflet.fullscreen": "leaflet.fullscreen",
}
_GITHUB_TO_NPM = {
    "ljagis/leaflet-measure": "leaflet-measure",
}

# Files a package's code loads by itself (not through its stylesheet), kept with it.
_EXTRA_FILES = {
    "leaflet": (
        "dist/images/marker-icon.png",
        "dist/images/marker-icon-2x.png",
        "dist/images/marker-shadow.png",
    ),
}
# Leaflet finds its default marker icon through a stylesheet URL, which fails once that is a
# data: URI; with the images inlined here no marker (e.g. leaflet-measure's) loads a file.
_LEAFLET_ICONS = """<script>
L.Icon.Default.imagePath = "";
L.Icon.Default.mergeOptions({iconUrl: "%s", iconRetinaUrl: "%s", shadowUrl: "%s"});
</script>"""

_MIME = {
    ".png": "image/png",
    ".gif": "image/gif",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
}
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")


@dataclass(frozen=True)
class NpmFile:
    """Where a CDN URL's file lives on npm: package, version and path inside the package."""

    url: str
    package: str
    version: str
    path: str


def assets_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The asset cache: ``path``, else ``$LUODIAN_MAP_ASSETS``, else ``~/.cache/...``."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "luodian-map" / "assets"


def resolve_url(url: str) -> NpmFile:
    """Map a CDN URL that folium writes onto the npm package file with the same content."""
    parsed = urllib.parse.urlsplit(url)
    host, parts = parsed.netloc, [p for p in parsed.path.split("/") if p]
    if host == "cdn.jsdelivr.net" and parts[:1] == ["npm"]:
        # /npm/<pkg>@<ver>/<path>, <pkg> may be scoped: /npm/@scope/name@ver/...
        scoped = parts[1].startswith("@")
        spec = "/".join(parts[1:3]) if scoped else parts[1]
        rest = parts[3:] if scoped else parts[2:]
        package, _, version = spec.rpartition("@")
        return NpmFile(url, package, version, "/".join(rest))
    if host == "cdn.jsdelivr.net" and parts[:1] == ["gh"]:
        repo, _, version = f"{parts[1]}/{parts[2]}".rpartition("@")
        if repo in _GITHUB_TO_NPM:
            return NpmFile(url, _GITHUB_TO_NPM[repo], version, "/".join(parts[3:]))
    if host == "cdnjs.cloudflare.com" and parts[:2] == ["ajax", "libs"]:
        library, version = parts[2], parts[3]
        package = _CDNJS_TO_NPM.get(library, library)
        return NpmFile(url, package, version, "/".join(parts[4:]))
    if host == "code.jquery.com":
        match = re.fullmatch(r"jquery-(\d+\.\d+\.\d+)(\.min)?\.js", parts[-1])
        if match:
            return NpmFile(url, "jquery", match.group(1), f"dist/{parts[-1]}")
    raise AssetsError(f"no npm package known for the web asset {url}")


def _candidates(path: str) -> list[str]:
    """Paths to try inside a tarball: CDNs sometimes serve a file npm keeps elsewhere or
    only in its unminified form (cdnjs flattens ``dist/``; jsdelivr minifies on the fly)."""
    pure = PurePosixPath(path)
    names = [pure.name]
    stem, suffix = pure.name.rsplit(".", 1) if "." in pure.name else (pure.name, "")
    if stem.endswith(".min"):
        names.append(f"{stem[:-4]}.{suffix}")
    else:
        names.append(f"{stem}.min.{suffix}")
    parents = [str(pure.parent), "dist", "."]
    out: list[str] = []
    for name in names:
        for parent in parents:
            candidate = str(PurePosixPath(parent) / name) if parent not in ("", ".") else name
            if candidate not in out:
                out.append(candidate)
    return out


def _registry() -> str:
    return os.environ.get(ENV_REGISTRY, DEFAULT_REGISTRY).rstrip("/")


def _get(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "luodian-map"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data: bytes = response.read()
            return data
    except OSError as exc:  # URLError, HTTPError and timeouts are all OSErrors
        raise AssetsError(f"cannot download {url}: {exc}") from exc


def _package_dist(package: str, version: str, timeout: float) -> dict[str, str]:
    quoted = urllib.parse.quote(package, safe="@")
    meta = json.loads(_get(f"{_registry()}/{quoted}/{version}", timeout))
    dist = meta.get("dist") or {}
    if "tarball" not in dist:
        raise AssetsError(f"the npm registry has no tarball for {package}@{version}")
    return {k: dist[k] for k in ("tarball", "integrity", "shasum") if k in dist}


def _verify(data: bytes, dist: dict[str, str], what: str) -> None:
    integrity = dist.get("integrity", "")
    if integrity:
        algo, _, expected = integrity.split()[0].partition("-")
        if algo not in ("sha512", "sha384", "sha256", "sha1"):
            raise AssetsError(f"unsupported integrity algorithm {algo!r} for {what}")
        actual = base64.b64encode(hashlib.new(algo, data).digest()).decode()
        if actual != expected:
            raise AssetsError(f"integrity check failed for {what}: the download is corrupt")
    elif dist.get("shasum"):
        if hashlib.sha1(data).hexdigest() != dist["shasum"]:
            raise AssetsError(f"shasum check failed for {what}: the download is corrupt")
    else:
        raise AssetsError(f"the npm registry gives no checksum for {what}")


def _read_tarball(data: bytes) -> dict[str, bytes]:
    """Regular files of an npm tarball, keyed by their path below the top folder."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            parts = PurePosixPath(member.name).parts
            if len(parts) < 2 or ".." in parts:
                continue
            handle = archive.extractfile(member)
            if handle is not None:
                files["/".join(parts[1:])] = handle.read()
    return files


def _css_references(css: str) -> list[str]:
    refs = []
    for _, ref in _CSS_URL.findall(css):
        ref = ref.strip()
        if ref.startswith(("data:", "#", "http:", "https:", "//")):
            continue
        refs.append(ref.split("?", 1)[0].split("#", 1)[0])
    return refs


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_assets(
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download the web assets of self-contained maps into the cache; return its folder.

    Idempotent: files already cached with the right checksum are kept, so it is cheap to
    call from a test session or a CI step, and safe to run from parallel processes (every
    file and the manifest are written atomically).

    Parameters
    ----------
    cache_dir : path, optional
        Where to keep the assets; default ``$LUODIAN_MAP_ASSETS`` or
        ``~/.cache/luodian-map/assets``.
    force : bool
        Download again even if the cache is complete.
    timeout : float
        Seconds for each HTTP request to the npm registry.
    """
    root = assets_dir(cache_dir)
    wanted = [resolve_url(url) for url in page_asset_urls()]
    if not force:
        try:
            manifest = load_manifest(root)
        except AssetsError:
            manifest = None
        if manifest is not None and all(f.url in manifest["urls"] for f in wanted):
            return root

    packages: dict[str, dict[str, str]] = {}
    urls: dict[str, dict[str, str]] = {}
    files_by_package: dict[str, dict[str, bytes]] = {}
    for npm in wanted:
        key = f"{npm.package}@{npm.version}"
        if key not in files_by_package:
            dist = _package_dist(npm.package, npm.version, timeout)
            data = _get(dist["tarball"], timeout)
            _verify(data, dist, key)
            packages[key] = dist
            files_by_package[key] = _read_tarball(data)
        files = files_by_package[key]
        path = next((c for c in _candidates(npm.path) if c in files), None)
        if path is None:
            raise AssetsError(f"{key} has no file {npm.path} (for {npm.url})")
        needed = [path, *(f for f in _EXTRA_FILES.get(npm.package, ()) if f in files)]
        if path.endswith(".css"):
            base = PurePosixPath(path).parent
            for ref in _css_references(files[path].decode("utf-8")):
                resource = _normalise(base / ref)
                if resource in files:
                    needed.append(resource)
        for item in needed:
            target = root / "npm" / key / item
            if not (target.is_file() and _sha256(target.read_bytes()) == _sha256(files[item])):
                write_atomic(target, files[item])
        urls[npm.url] = {
            "package": npm.package,
            "version": npm.version,
            "file": f"npm/{key}/{path}",
            "sha256": _sha256(files[path]),
        }
    manifest = {
        "format": MANIFEST_FORMAT,
        "registry": _registry(),
        "packages": packages,
        "urls": urls,
    }
    write_atomic(root / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return root


def _normalise(path: PurePosixPath) -> str:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return "/".join(parts)


def load_manifest(cache_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The cache's manifest; :class:`AssetsError` if there is none or it is unreadable."""
    path = assets_dir(cache_dir) / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise AssetsError(MISSING_MESSAGE) from None
    if manifest.get("format") != MANIFEST_FORMAT or not isinstance(manifest.get("urls"), dict):
        raise AssetsError(MISSING_MESSAGE)
    return manifest


def _data_uri(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _inline_css(css: str, css_path: Path, root: Path) -> str:
    def replace(match: re.Match[str]) -> str:
        ref = match.group(2).strip()
        if ref.startswith(("data:", "#")):
            return match.group(0)
        if ref.startswith(("http:", "https:", "//")):
            raise AssetsError(f"{css_path.name} loads {ref} from the network")
        clean = ref.split("?", 1)[0].split("#", 1)[0]
        resource = (css_path.parent / clean).resolve()
        if not resource.is_relative_to(root.resolve()) or not resource.is_file():
            raise AssetsError(MISSING_MESSAGE)
        return f'url("{_data_uri(resource)}")'

    return _CSS_URL.sub(replace, css)


def _read_cached(root: Path, entry: dict[str, str]) -> tuple[Path, bytes]:
    path = root / entry["file"]
    try:
        data = path.read_bytes()
    except OSError:
        raise AssetsError(MISSING_MESSAGE) from None
    if _sha256(data) != entry["sha256"]:
        raise AssetsError(f"web asset {entry['file']} is damaged: run `luodian-map assets`")
    return path, data


def inline_assets(html: str, cache_dir: str | os.PathLike[str] | None = None) -> str:
    """Replace every ``<script src>`` / ``<link rel=stylesheet>`` of a folium page by the
    cached file's content, with the images and fonts of stylesheets as data: URIs."""
    root = assets_dir(cache_dir)
    manifest = load_manifest(root)

    def entry_for(url: str) -> dict[str, str]:
        entry: dict[str, str] | None = manifest["urls"].get(url)
        if entry is None:
            raise AssetsError(MISSING_MESSAGE)
        return entry

    def script(match: re.Match[str]) -> str:
        entry = entry_for(match.group(1))
        path, data = _read_cached(root, entry)
        code = data.decode("utf-8")
        # A literal "</script" would end the element early: escape it as JS allows.
        code = re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE)
        out = f"<script>{code}</script>"
        if entry.get("package") == "leaflet" and path.name in ("leaflet.js", "leaflet-src.js"):
            images = path.parent / "images"
            names = ("marker-icon.png", "marker-icon-2x.png", "marker-shadow.png")
            if not all((images / n).is_file() for n in names):
                raise AssetsError(MISSING_MESSAGE)
            out += _LEAFLET_ICONS % tuple(_data_uri(images / n) for n in names)
        return out

    def stylesheet(match: re.Match[str]) -> str:
        path, data = _read_cached(root, entry_for(match.group(1)))
        css = _inline_css(data.decode("utf-8"), path, root)
        css = re.sub(r"</(style)", r"<\\/\1", css, flags=re.IGNORECASE)
        return f"<style>{css}</style>"

    html = re.sub(r'<script src="([^"]+)"></script>', script, html)
    html = re.sub(r'<link rel="stylesheet" href="([^"]+)"\s*/?>', stylesheet, html)
    return html
