  // ---------------------------------------------------------------- GCJ-02
  // The published GCJ-02 formulas (the same as luodian_map.crs): the Gaode page shows data
  // shifted into GCJ-02, and what a planner draws there is shifted back before export.
  var GCJ_A = 6378245.0, GCJ_EE = 0.006693421622965943;
  function outOfChina(lon, lat) {
    return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
  }
  function wgs84ToGcj02(lon, lat) {
    if (outOfChina(lon, lat)) return [lon, lat];
    var x = lon - 105.0, y = lat - 35.0, pi = Math.PI;
    var sx = Math.sqrt(Math.abs(x)), sy = pi * y;
    var wave = (20.0 * Math.sin(6.0 * x * pi) + 20.0 * Math.sin(2.0 * x * pi)) * 2.0 / 3.0;
    var dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + wave +
      (20.0 * Math.sin(sy) + 40.0 * Math.sin(sy / 3.0)) * 2.0 / 3.0 +
      (160.0 * Math.sin(sy / 12.0) + 320.0 * Math.sin(sy / 30.0)) * 2.0 / 3.0;
    var dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + wave +
      (20.0 * Math.sin(x * pi) + 40.0 * Math.sin(x * pi / 3.0)) * 2.0 / 3.0 +
      (150.0 * Math.sin(x * pi / 12.0) + 300.0 * Math.sin(x * pi / 30.0)) * 2.0 / 3.0;
    var rad = lat / 180.0 * pi;
    var magic = 1 - GCJ_EE * Math.sin(rad) * Math.sin(rad);
    var sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180.0) / ((GCJ_A * (1 - GCJ_EE)) / (magic * sqrtMagic) * pi);
    dLon = (dLon * 180.0) / (GCJ_A / sqrtMagic * Math.cos(rad) * pi);
    return [lon + dLon, lat + dLat];
  }
  function gcj02ToWgs84(lon, lat) {
    var gLon = lon, gLat = lat;
    for (var i = 0; i < 30; i++) {
      var f = wgs84ToGcj02(gLon, gLat);
      var mLon = f[0] - lon, mLat = f[1] - lat;
      gLon -= mLon;
      gLat -= mLat;
      if (Math.abs(mLon) < 1e-10 && Math.abs(mLat) < 1e-10) break;
    }
    return [gLon, gLat];
  }
  LM.wgs84ToGcj02 = wgs84ToGcj02;
  LM.gcj02ToWgs84 = gcj02ToWgs84;

  function mapCoords(coords, fn) {
    if (typeof coords[0] === "number") {
      var out = fn(coords[0], coords[1]);
      return [Math.round(out[0] * 1e6) / 1e6, Math.round(out[1] * 1e6) / 1e6];
    }
    return coords.map(function (c) { return mapCoords(c, fn); });
  }

  // ---------------------------------------------------------------- compact data
  /* Varints in Google's encoded-polyline characters (web/encode.py _varint), read in turn. */
  function reader(text) {
    var at = 0;
    function uint() {
      var result = 0, factor = 1, b;
      do {
        b = text.charCodeAt(at++) - 63;
        result += (b & 31) * factor;
        factor *= 32;
      } while (b >= 32);
      return result;
    }
    return {
      uint: uint,
      int: function () { var v = uint(); return v % 2 ? -(v + 1) / 2 : v / 2; }
    };
  }

  var GEOMETRY_TYPES = [null, "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
    "MultiPolygon", "GeometryCollection"];
  var NESTING = { Point: 0, MultiPoint: 1, LineString: 1, MultiLineString: 2, Polygon: 2,
    MultiPolygon: 3 };

  /* The page data (web/encode.py compact: property columns, one string of delta-encoded
   * coordinates) back to GeoJSON features. A feature's properties read its row of the
   * columns (getters, no copy); an entity's mentions, sent once, are filled in. */
  function decode(data) {
    var n = data.n, columns = {}, shared = data.mentions || {};
    Object.keys(data.columns).forEach(function (key) {
      var c = data.columns[key], out;
      if ("c" in c) {
        out = new Array(n).fill(c.c);
      } else if ("d" in c) {
        var r = reader(c.i);
        out = new Array(n);
        for (var i = 0; i < n; i++) out[i] = c.d[r.uint()];
      } else {
        out = c.v;
      }
      columns[key] = out;
    });
    if (columns.mentions && columns.entity) {
      for (var m = 0; m < n; m++) {
        var entity = columns.entity[m];
        if (!columns.mentions[m] && entity && shared[entity]) columns.mentions[m] = shared[entity];
      }
    }
    function Properties(row) { this._row = row; }
    Object.keys(columns).forEach(function (key) {
      var column = columns[key];
      Object.defineProperty(Properties.prototype, key, {
        enumerable: true, get: function () { return column[this._row]; }
      });
    });
    var g = reader(data.geometry), x = 0, y = 0, scale = data.scale;
    function positions(count) {  // flat [lon, lat, …]
      var out = new Array(2 * count);
      for (var i = 0; i < count; i++) {
        x += g.int();
        y += g.int();
        out[2 * i] = x / scale;
        out[2 * i + 1] = y / scale;
      }
      return out;
    }
    function parts(depth) {
      if (depth === 1) return positions(g.uint());
      var len = g.uint(), out = new Array(len);
      for (var i = 0; i < len; i++) out[i] = parts(depth - 1);
      return out;
    }
    function raw() {
      var type = GEOMETRY_TYPES[g.uint()];
      if (!type) return null;
      if (type === "GeometryCollection") {
        var len = g.uint(), list = [];
        for (var i = 0; i < len; i++) list.push(raw());
        return { type: type, parts: list };
      }
      return { type: type, parts: type === "Point" ? positions(1) : parts(NESTING[type]) };
    }
    var features = new Array(n);
    for (var i = 0; i < n; i++) features[i] = new Feature(new Properties(i), raw());
    return features;
  }

  /* A feature keeps its geometry as flat coordinate lists (``raw``: what drawing needs);
   * the GeoJSON form is made when something asks for it. */
  function Feature(properties, raw) {
    this.properties = properties;
    this.raw = raw;
    this._geometry = undefined;
  }
  Feature.prototype.type = "Feature";
  Object.defineProperty(Feature.prototype, "geometry", {
    get: function () {
      if (this._geometry === undefined) this._geometry = toGeoJSON(this.raw);
      return this._geometry;
    }
  });

  function toGeoJSON(raw) {
    if (!raw) return null;
    if (raw.type === "GeometryCollection") {
      return { type: raw.type, geometries: raw.parts.map(toGeoJSON) };
    }
    function nest(part, depth) {
      if (depth > 1) return part.map(function (p) { return nest(p, depth - 1); });
      var out = [];
      for (var i = 0; i < part.length; i += 2) out.push([part[i], part[i + 1]]);
      return out;
    }
    return { type: raw.type, coordinates: raw.type === "Point" ? [raw.parts[0], raw.parts[1]]
      : nest(raw.parts, NESTING[raw.type]) };
  }

