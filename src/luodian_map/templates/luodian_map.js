/* luodian-map: the page logic of a rendered map (features, filter, legend, search, edit
 * tools). Inlined into every page by luodian_map.render; the folium elements of render.py
 * only call into it. Report text is never parsed as HTML: every string from the data goes
 * into the DOM through textContent or a text node.
 *
 * Features are not Leaflet layers: tens of thousands of them would take seconds to create
 * and to add or remove on every filter change. They are drawn by one canvas renderer
 * (FeatureCanvas) from projected coordinates kept per feature, found under the mouse
 * through a grid index, and shown or hidden by a flag and one redraw. The town-level group
 * markers are drawn on the same canvas (under an empty element each, for mouse and keyboard). */
(function () {
  "use strict";

  var LM = (window.LuodianMap = window.LuodianMap || {});
  var GROUPS = ["year", "cat", "status", "follow"];
  var RANK = {
    Polygon: 0, MultiPolygon: 0, GeometryCollection: 0,
    LineString: 1, MultiLineString: 1, Point: 2, MultiPoint: 2
  };
  // Precisions whose position is a guess (dashed, hollow; hidden by the switch
  // "显示近似位置"): categories.GUESS_PRECISIONS, from the page's config (LM.create).
  var UNCERTAIN = {};
  var DASH = { approximate: "7 5", town: "2 5" };
  var FOLLOW_COLORS = {
    delivered: "#1a9641", in_progress: "#e69500", not_mentioned: "#d7191c", pending: "#8c8c8c"
  };
  var POPUP_OPTIONS = {
    maxWidth: 380, minWidth: 260, autoPanPadding: [40, 40], className: "lm-popup"
  };

  // ---------------------------------------------------------------- DOM helpers
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /* Text that did not change is not set again: each change lays the panel out anew. */
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (m, key) {
      return values[key] === undefined ? m : String(values[key]);
    });
  }

  var SVG_NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    return node;
  }

  /* A legend symbol drawn with the same style rules as the map. */
  function swatch(kind, color, precision) {
    var box = svg("svg", { width: 26, height: 16, viewBox: "0 0 26 16", "class": "lm-swatch" });
    var dash = DASH[precision] || null;
    var hollow = !!UNCERTAIN[precision];
    if (kind === "Polygon") {
      var rect = svg("rect", {
        x: 3, y: 2, width: 20, height: 12, rx: 1, fill: color,
        "fill-opacity": hollow ? 0.1 : 0.3, stroke: color, "stroke-width": 2
      });
      if (dash) rect.setAttribute("stroke-dasharray", dash.replace(/(\d+)/g, function (n) {
        return String(Math.max(1, Math.round(n / 2)));
      }));
      box.appendChild(rect);
    } else if (kind === "LineString") {
      var line = svg("path", { d: "M2 12 L10 5 L17 10 L24 3", fill: "none", stroke: color,
        "stroke-width": 3, "stroke-linecap": "round" });
      if (dash) line.setAttribute("stroke-dasharray", dash.replace(/(\d+)/g, function (n) {
        return String(Math.max(1, Math.round(n / 2)));
      }));
      box.appendChild(line);
    } else {
      if (hollow) {
        box.appendChild(svg("circle", { cx: 13, cy: 8, r: 7.2, fill: "none",
          stroke: precision === "town" ? "#666666" : color, "stroke-width": 1,
          "stroke-dasharray": precision === "town" ? "1 2" : "2 2" }));
      }
      var dot = svg("circle", { cx: 13, cy: 8, r: 4.5, fill: hollow ? "#ffffff" : color,
        "fill-opacity": 1, stroke: hollow ? color : "#ffffff", "stroke-width": hollow ? 2.2 : 1.5 });
      if (precision === "town") dot.setAttribute("stroke-dasharray", "2 1.5");
      box.appendChild(dot);
    }
    return box;
  }

  function extend(target, source) {
    Object.keys(source).forEach(function (k) { target[k] = source[k]; });
    return target;
  }

  /* The follow-up badge: a coloured disc with ✓ (delivered), → (in progress), ✗ (not
   * mentioned) or … (pending), drawn in SVG so it needs no font. */
  function followBadge(kind, size) {
    size = size || 14;
    var box = svg("svg", { width: size, height: size, viewBox: "0 0 16 16",
      "class": "lm-follow-badge lm-follow-" + kind, "aria-hidden": "true" });
    box.appendChild(svg("circle", { cx: 8, cy: 8, r: 7.2, fill: FOLLOW_COLORS[kind] || "#8c8c8c",
      stroke: "#ffffff", "stroke-width": 1.3 }));
    var glyph = { fill: "none", stroke: "#ffffff", "stroke-width": 2, "stroke-linecap": "round",
      "stroke-linejoin": "round" };
    var paths = {
      delivered: "M4.5 8.3 L7 10.8 L11.7 5.6",
      in_progress: "M4.4 8 H11.2 M8.5 5.3 L11.2 8 L8.5 10.7",
      not_mentioned: "M5.3 5.3 L10.7 10.7 M10.7 5.3 L5.3 10.7"
    };
    if (paths[kind]) {
      box.appendChild(svg("path", extend({ d: paths[kind] }, glyph)));
    } else {
      [4.8, 8, 11.2].forEach(function (x) {
        box.appendChild(svg("circle", { cx: x, cy: 8, r: 1.25, fill: "#ffffff" }));
      });
    }
    return box;
  }

  /* The legend symbol of a town-level group: the pill the map shows, in small. */
  function groupSwatch() {
    var box = svg("svg", { width: 26, height: 16, viewBox: "0 0 26 16", "class": "lm-swatch" });
    box.appendChild(svg("rect", { x: 1.5, y: 2.5, width: 23, height: 11, rx: 5.5, fill: "#ffffff",
      stroke: "#555555", "stroke-width": 1.3, "stroke-dasharray": "2.5 1.5" }));
    box.appendChild(svg("path", { d: "M8 6 H18 M8 8 H16 M8 10 H17", stroke: "#555555",
      "stroke-width": 1.1 }));
    return box;
  }

  // ---------------------------------------------------------------- GCJ-02
  // The published GCJ-02 formulas (the same as luodian_map.crs): the Gaode page shows data
  // shifted into GCJ-02, and what a planner draws there is shifted back before export.
  var GCJ_A = 6378245.0, GCJ_EE = 0.00669342162296594323;
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
  /* Varints in Google's encoded-polyline characters (render._varint), read in turn. */
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

  /* The page data (render._compact: property columns, one string of delta-encoded
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

  // ---------------------------------------------------------------- drawing
  /* Web Mercator (Leaflet's EPSG:3857) in pixels at zoom 0: the map's own projection,
   * without a LatLng and a Point object per vertex. */
  var MAX_LAT = 85.0511287798;
  function worldX(lon) { return 256 * (0.5 + lon / 360); }
  function worldY(lat) {
    var s = Math.sin(Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * Math.PI / 180);
    return 256 * (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI));
  }

  /* Flat [lon, lat, …] as flat world pixels at zoom 0 [x, y, …]; extends ``box``. */
  function worldPath(lonlat, box) {
    var path = new Array(lonlat.length);
    for (var i = 0; i < lonlat.length; i += 2) {
      var x = worldX(lonlat[i]), y = worldY(lonlat[i + 1]);
      path[i] = x;
      path[i + 1] = y;
      if (x < box[0]) box[0] = x;
      if (y < box[1]) box[1] = y;
      if (x > box[2]) box[2] = x;
      if (y > box[3]) box[3] = y;
    }
    return path;
  }

  /* A drawn feature as shapes in world pixels at zoom 0 (multiplied by 2^zoom and less the
   * pixel origin at draw time): {kind: 0 polygon, 1 line, 2 point; paths: flat rings,
   * lines or points; holes: a polygon has inner rings}. */
  function shapesOf(raw, box, out) {
    var c = raw.parts, paths = [], kind = 2, holes = false, i, j;
    switch (raw.type) {
      case "Point": paths.push(worldPath(c, box)); break;
      case "MultiPoint":
        for (i = 0; i < c.length; i += 2) paths.push(worldPath([c[i], c[i + 1]], box));
        break;
      case "LineString": kind = 1; paths.push(worldPath(c, box)); break;
      case "MultiLineString":
        kind = 1;
        for (i = 0; i < c.length; i++) paths.push(worldPath(c[i], box));
        break;
      case "Polygon":
        kind = 0;
        holes = c.length > 1;
        for (i = 0; i < c.length; i++) paths.push(worldPath(c[i], box));
        break;
      case "MultiPolygon":
        kind = 0;
        for (i = 0; i < c.length; i++) {
          holes = holes || c[i].length > 1;
          for (j = 0; j < c[i].length; j++) paths.push(worldPath(c[i][j], box));
        }
        break;
      case "GeometryCollection":
        for (i = 0; i < c.length; i++) shapesOf(c[i], box, out);
        return out;
    }
    out.push({ kind: kind, paths: paths, holes: holes });
    return out;
  }

  /* The style of a feature's shape: category colour; approximate and town-level places
   * dashed, hollow and lighter (the same rules as the legend's swatches). */
  function shapeStyle(app, p, kind) {
    var key = p.category + "|" + p.precision + "|" + kind;
    if (app.styles[key]) return app.styles[key];
    var color = (app.categories[p.category] || {}).color || "#555555";
    var uncertain = !!UNCERTAIN[p.precision], dash = DASH[p.precision];
    var style;
    if (kind === 2) {
      style = uncertain ? {
        radius: 7, color: color, weight: 3, opacity: 1, fill: "#ffffff", fillOpacity: 0.9,
        dash: p.precision === "town" ? [3, 2] : []
      } : {
        radius: 7, color: "#ffffff", weight: 1.5, opacity: 1, fill: color, fillOpacity: 0.95,
        dash: []
      };
    } else {
      style = {
        color: color, weight: kind === 1 ? (uncertain ? 3 : 4) : 2, opacity: 0.95,
        fill: kind === 0 ? color : null, fillOpacity: uncertain ? 0.1 : 0.28,
        dash: dash ? dash.split(" ").map(Number) : []
      };
    }
    return (app.styles[key] = style);
  }

  var HIT_TOLERANCE = 5;  // px around a shape that still counts as on it
  var HIT_REACH = 14;     // px: the farthest a hit can be from a shape's box (a dot's radius …)

  /* Where world pixels at zoom 0 are on the canvas now: layer point = world * k - origin. */
  function viewOf(map) {
    var crs = map.options.crs;
    return { k: crs.scale(map.getZoom()) / crs.scale(0), origin: map.getPixelOrigin() };
  }

  /* Adds a line or polygon to the canvas's current path. */
  function tracePath(ctx, shape, view) {
    var k = view.k, ox = view.origin.x, oy = view.origin.y;
    for (var j = 0; j < shape.paths.length; j++) {
      var path = shape.paths[j], last = path.length - 2, lx = 0, ly = 0;
      for (var i = 0; i <= last; i += 2) {
        var px = path[i] * k - ox, py = path[i + 1] * k - oy;
        if (i === 0) ctx.moveTo(px, py);
        // vertices closer than a pixel to the last drawn one add nothing at this zoom
        else if (i === last || Math.abs(px - lx) + Math.abs(py - ly) >= 1) ctx.lineTo(px, py);
        else continue;
        lx = px;
        ly = py;
      }
      if (shape.kind === 0) ctx.closePath();
    }
  }

  /* Every point style drawn once, side by side, into one image: thousands of dots are
   * then copies from it, far cheaper for the browser to paint than as many stroked circles.
   * An ImageBitmap where there is one: a <canvas> drawn into another is copied out again
   * every time. */
  function buildSprites(app) {
    var styles = Object.keys(app.styles).map(function (k) { return app.styles[k]; })
      .filter(function (st) { return st.radius; });
    if (!styles.length) return;
    var scale = L.Browser.retina ? 2 : 1, x = 0;
    styles.forEach(function (st) {
      st.sprite = { x: x, size: 2 * Math.ceil(st.radius + st.weight) + 2 };
      x += st.sprite.size;
    });
    var offscreen = typeof OffscreenCanvas !== "undefined";
    var height = Math.max.apply(null, styles.map(function (st) { return st.sprite.size; }));
    var canvas = offscreen ? new OffscreenCanvas(1, 1) : document.createElement("canvas");
    canvas.width = x * scale;
    canvas.height = height * scale;
    var ctx = canvas.getContext("2d");
    ctx.scale(scale, scale);
    styles.forEach(function (st) {
      var half = st.sprite.size / 2;
      ctx.beginPath();
      ctx.arc(st.sprite.x + half, half, st.radius, 0, Math.PI * 2);
      paint(ctx, st, "nonzero");
    });
    app.sprites = { image: offscreen ? canvas.transferToImageBitmap() : canvas, scale: scale };
  }

  function stamp(app, ctx, shape, style, view) {
    var sprite = style.sprite, size = sprite.size, half = size / 2, s = app.sprites.scale;
    for (var j = 0; j < shape.paths.length; j++) {
      var path = shape.paths[j];
      ctx.drawImage(app.sprites.image, sprite.x * s, 0, size * s, size * s,
        Math.round(path[0] * view.k - view.origin.x - half),
        Math.round(path[1] * view.k - view.origin.y - half), size, size);
    }
  }

  function paint(ctx, style, fillRule) {
    if (style.fill) {
      ctx.globalAlpha = style.fillOpacity;
      ctx.fillStyle = style.fill;
      ctx.fill(fillRule);
    }
    ctx.setLineDash(style.dash);
    // round ends on every dash would double the shapes the browser has to fill
    ctx.lineCap = style.dash.length ? "butt" : "round";
    ctx.globalAlpha = style.opacity;
    ctx.lineWidth = style.weight;
    ctx.strokeStyle = style.color;
    ctx.stroke();
  }

  /* Every visible feature in draw order (polygons, lines, points), those in ``clip`` (a
   * partial redraw) or, without it, all in view; records what a full draw painted.
   * Neighbours in the order with the same style share one path, one fill and one stroke:
   * each fill or stroke costs the browser a rasterisation, per path rather than per pixel.
   * (Overlaps in a shared path are filled once, by the non-zero rule; a polygon with holes
   * is painted on its own, even-odd.) Dots are copies of a sprite. */
  function drawFeatures(app, ctx, clip, area) {
    var view = viewOf(app.map), k = view.k, ox = view.origin.x, oy = view.origin.y;
    var painted = clip ? null : [], open = null;
    ctx.lineJoin = "round";
    for (var n = 0; n < app.drawn.length; n++) {
      var e = app.drawn[n];
      if (!e.visible) continue;
      var b = e.box, x0 = b[0] * k - ox - HIT_REACH, y0 = b[1] * k - oy - HIT_REACH;
      var x1 = b[2] * k - ox + HIT_REACH, y1 = b[3] * k - oy + HIT_REACH;
      if (x1 < area.min.x || x0 > area.max.x || y1 < area.min.y || y0 > area.max.y) continue;
      if (clip && (x1 < clip.min.x || x0 > clip.max.x || y1 < clip.min.y || y0 > clip.max.y)) {
        continue;
      }
      if (e.batch && e.shapes[0].kind !== 2) {
        if (open !== e.styles[0]) {
          if (open) paint(ctx, open, "nonzero");
          open = e.styles[0];
          ctx.beginPath();
        }
        tracePath(ctx, e.shapes[0], view);
      } else {
        if (open) paint(ctx, open, "nonzero");
        open = null;
        for (var i = 0; i < e.shapes.length; i++) {
          if (e.shapes[i].kind === 2) {
            ctx.globalAlpha = 1;
            stamp(app, ctx, e.shapes[i], e.styles[i], view);
            continue;
          }
          ctx.beginPath();
          tracePath(ctx, e.shapes[i], view);
          paint(ctx, e.styles[i], "evenodd");
        }
      }
      if (painted) painted.push(e.id);
    }
    if (open) paint(ctx, open, "nonzero");
    ctx.globalAlpha = 1;
    if (painted) app.painted = painted;
  }

  var FeatureCanvas = null;
  /* Leaflet's canvas renderer, which also draws the features: under the Leaflet paths on
   * it (uncertainty circles), above those marked ``lmUnder`` (the town outline). */
  function featureCanvas(app) {
    FeatureCanvas = FeatureCanvas || L.Canvas.extend({
      /* Every feature again on the next frame (after a filter change). */
      redrawAll: function () {
        if (!this._map) return;
        this._lmFull = true;
        this._redrawRequest = this._redrawRequest || L.Util.requestAnimFrame(this._redraw, this);
      },
      _redraw: function () {
        // a redraw for a view change comes first: the one queued for a frame is not needed
        if (this._redrawRequest) L.Util.cancelAnimFrame(this._redrawRequest);
        if (this._lmFull) this._redrawBounds = null;
        this._lmFull = false;
        L.Canvas.prototype._redraw.call(this);
      },
      _draw: function () {
        var bounds = this._redrawBounds, ctx = this._ctx;
        ctx.save();
        if (bounds) {
          var size = bounds.getSize();
          ctx.beginPath();
          ctx.rect(bounds.min.x, bounds.min.y, size.x, size.y);
          ctx.clip();
        }
        this._drawing = true;
        this._drawLayers(bounds, true);
        if (this._lmApp.drawn) drawFeatures(this._lmApp, ctx, bounds, this._bounds);
        this._drawLayers(bounds, false);
        drawGroups(this._lmApp, ctx, bounds, this._bounds);
        this._drawing = false;
        ctx.restore();
      },
      _drawLayers: function (bounds, under) {
        for (var order = this._drawFirst; order; order = order.next) {
          var layer = order.layer;
          if (!layer.options.lmUnder !== !under) continue;
          if (!bounds || (layer._pxBounds && layer._pxBounds.intersects(bounds))) {
            layer._updatePath();
          }
        }
      }
    });
    var renderer = new FeatureCanvas({ tolerance: HIT_TOLERANCE });
    renderer._lmApp = app;
    return renderer;
  }

  // ---------------------------------------------------------------- hit-testing
  /* A grid over the features' boxes (world pixels at zoom 0), about four per cell. */
  function buildIndex(app) {
    var list = app.drawn;
    app.grid = null;
    if (!list.length) return;
    var minx = Infinity, miny = Infinity, maxx = -Infinity, maxy = -Infinity;
    list.forEach(function (e) {
      minx = Math.min(minx, e.box[0]); miny = Math.min(miny, e.box[1]);
      maxx = Math.max(maxx, e.box[2]); maxy = Math.max(maxy, e.box[3]);
    });
    var n = Math.max(1, Math.min(256, Math.ceil(Math.sqrt(list.length / 4))));
    var grid = { minx: minx, miny: miny, n: n, cells: new Array(n * n),
      w: (maxx - minx) / n || 1e-9, h: (maxy - miny) / n || 1e-9 };
    list.forEach(function (e) {
      var r = cellRange(grid, e.box[0], e.box[1], e.box[2], e.box[3]);
      for (var cy = r[1]; cy <= r[3]; cy++) {
        for (var cx = r[0]; cx <= r[2]; cx++) {
          (grid.cells[cy * n + cx] = grid.cells[cy * n + cx] || []).push(e);
        }
      }
    });
    app.grid = grid;
  }

  function cellRange(grid, x0, y0, x1, y1) {
    function clamp(v) { return Math.max(0, Math.min(grid.n - 1, Math.floor(v))); }
    return [clamp((x0 - grid.minx) / grid.w), clamp((y0 - grid.miny) / grid.h),
      clamp((x1 - grid.minx) / grid.w), clamp((y1 - grid.miny) / grid.h)];
  }

  function segmentDistance(px, py, ax, ay, bx, by) {
    var dx = bx - ax, dy = by - ay, len = dx * dx + dy * dy;
    var t = len ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len)) : 0;
    var cx = ax + t * dx - px, cy = ay + t * dy - py;
    return Math.sqrt(cx * cx + cy * cy);
  }

  /* Whether the layer point (px, py) is on the shape, as Leaflet's paths decide it: within
   * the stroke plus the tolerance, or inside a polygon (even-odd over its rings). */
  function shapeContains(shape, style, view, px, py) {
    var k = view.k, ox = view.origin.x, oy = view.origin.y;
    var reach = (style.radius || 0) + style.weight / 2 + HIT_TOLERANCE, inside = false;
    for (var j = 0; j < shape.paths.length; j++) {
      var path = shape.paths[j];
      if (shape.kind === 2) {
        var dx = path[0] * k - ox - px, dy = path[1] * k - oy - py;
        if (dx * dx + dy * dy <= reach * reach) return true;
        continue;
      }
      var count = path.length / 2, closed = shape.kind === 0;
      for (var i = closed ? 0 : 1; i < count; i++) {
        var a = closed && i === 0 ? count - 1 : i - 1;
        var ax = path[2 * a] * k - ox, ay = path[2 * a + 1] * k - oy;
        var bx = path[2 * i] * k - ox, by = path[2 * i + 1] * k - oy;
        if (segmentDistance(px, py, ax, ay, bx, by) <= reach) return true;
        if (closed && ((ay > py) !== (by > py)) && px < (bx - ax) * (py - ay) / (by - ay) + ax) {
          inside = !inside;
        }
      }
    }
    return inside;
  }

  /* The topmost visible feature at a layer point, or null. */
  function featureAt(app, point) {
    if (app.grid === undefined) buildIndex(app);  // on first use: not needed to draw
    var grid = app.grid;
    if (!grid) return null;
    var view = viewOf(app.map), reach = HIT_REACH / view.k;
    var wx = (point.x + view.origin.x) / view.k, wy = (point.y + view.origin.y) / view.k;
    var r = cellRange(grid, wx - reach, wy - reach, wx + reach, wy + reach);
    var best = null;
    for (var cy = r[1]; cy <= r[3]; cy++) {
      for (var cx = r[0]; cx <= r[2]; cx++) {
        var cell = grid.cells[cy * grid.n + cx] || [];
        for (var c = 0; c < cell.length; c++) {
          var e = cell[c];
          if (!e.visible || (best && e.order <= best.order)) continue;
          if (wx < e.box[0] - reach || wx > e.box[2] + reach ||
              wy < e.box[1] - reach || wy > e.box[3] + reach) continue;
          for (var i = 0; i < e.shapes.length; i++) {
            if (shapeContains(e.shapes[i], e.styles[i], view, point.x, point.y)) {
              best = e;
              break;
            }
          }
        }
      }
    }
    return best;
  }

  /* Hover: the name as a tooltip that follows the mouse, a pointer cursor, and the
   * uncertainty circle of an approximate place. Click: the feature's popup. */
  function bindPointer(app) {
    var map = app.map, canvas = app.renderer._container;
    app.tooltip = L.tooltip({ sticky: true, direction: "top", opacity: 0.95 });
    function onCanvas(ev) { return ev.originalEvent && ev.originalEvent.target === canvas; }
    function hover(entry, latlng) {
      if (entry !== app.hovered) {
        var left = app.hovered;
        app.hovered = entry;
        if (left && left.props.precision === "approximate" && app.popupEntry !== left) {
          app.circles.clearLayers();
        }
        L.DomUtil[entry ? "addClass" : "removeClass"](canvas, "leaflet-interactive");
        if (!entry) { map.closeTooltip(app.tooltip); return; }
        app.tooltip.setContent(el("span", "lm-tooltip-name", entry.props.name));
        if (entry.props.precision === "approximate") showCircles(app, entry);
      }
      if (entry) {
        app.tooltip.setLatLng(latlng);
        if (!map.hasLayer(app.tooltip)) map.openTooltip(app.tooltip);
      }
    }
    app.hover = hover;
    map.on("mousemove", function (ev) {
      hover(onCanvas(ev) ? featureAt(app, ev.layerPoint) : null, ev.latlng);
    });
    map.on("mouseout zoomstart movestart", function () { hover(null); });
    L.DomEvent.on(canvas, "mouseout", function () { hover(null); });
    map.on("click", function (ev) {
      var entry = onCanvas(ev) ? featureAt(app, ev.layerPoint) : null;
      if (entry) openPopupAt(app, entry, ev.latlng);
    });
  }

  function openPopupAt(app, entry, latlng) {
    var popup = L.popup(app.popupOptions).setLatLng(latlng).setContent(popupContent(app, entry));
    popup._lmEntry = entry;
    popup.openOn(app.map);
  }

  // ---------------------------------------------------------------- the app
  LM.create = function (map, data, config) {
    var app = {
      map: map,
      config: config,
      s: config.strings,
      entries: [],
      byId: {},
      byEntity: {},   // entity id -> its entries (one per year)
      children: {},   // entity id -> {phase entity id: true}
      categories: {},
      styles: {},     // "category|precision|kind" -> shape style
      drawn: [],      // the entries drawn on the canvas, in draw order
      painted: [],    // ids painted by the last full draw
      paintedGroups: [],  // keys of the group pills painted by the last full draw
      hovered: null,
      townGroups: [],
      townGroupByKey: {},
      towns: [],
      state: { year: null, cat: null, status: null, follow: null, approx: true },
      options: { year: [], cat: [], status: [], follow: [] },
      listeners: [],
      later: [],      // run after the first paint (LM.afterFirstPaint)
      popupEntry: null,
      popupGroup: null,
      showAllCircles: false,
      readyTime: null
    };
    // One canvas for all data. The map's default renderer stays SVG: leaflet-measure and
    // Leaflet.draw need SVG paths.
    app.renderer = featureCanvas(app);
    map.addLayer(app.renderer);
    (config.guessPrecisions || []).forEach(function (p) { UNCERTAIN[p] = true; });
    config.categories.forEach(function (c) { app.categories[c.id] = c; });
    // Popups scroll beyond this height: most of the map's height, at most 600 px.
    app.popupOptions = extend(extend({}, POPUP_OPTIONS),
      { maxHeight: Math.max(240, Math.min(600, map.getSize().y - 150)) });

    var present = { year: {}, cat: {}, status: {}, follow: {}, town: {} };
    var anyFollow = false;
    var features = decode(data);
    features.forEach(function (f) {
      var p = f.properties;
      present.year[p.year] = true;
      present.cat[p.category] = true;
      present.status[p.status] = true;
      present.follow[p.follow_up || "none"] = true;
      if (p.follow_up) anyFollow = true;
      if (p.town) present.town[p.town] = true;
    });
    app.towns = Object.keys(present.town).sort();
    app.options.year = config.years.slice();
    app.options.cat = config.categories.filter(function (c) { return present.cat[c.id]; })
      .map(function (c) { return c.id; });
    app.options.status = config.statuses.map(function (s) { return s.id; });
    // The follow-up group exists only when some feature is a promise with a verdict.
    app.options.follow = anyFollow ? config.followUps.filter(function (o) {
      return present.follow[o.id];
    }).map(function (o) { return o.id; }) : [];

    // Uncertainty circles: of the hovered or opened feature, and (legend) of all of them.
    app.allCircles = L.layerGroup().addTo(map);
    app.circles = L.layerGroup().addTo(map);
    app.badges = L.layerGroup().addTo(map);

    // Drawn polygons first, then lines, then points, so the smaller shapes stay on top
    // (and are found first under the mouse).
    // (The page data comes sorted by id: grouping keeps that order within each rank.)
    var byRank = [[], [], []];
    features.forEach(function (f) { byRank[rankOf(f)].push(f); });
    var sorted = byRank[0].concat(byRank[1], byRank[2]);
    var present = {};
    app.options.cat.forEach(function (cat) { present[cat] = true; });
    sorted.forEach(function (f) {
      if (!present[f.properties.category]) return;
      // No geometry: not drawn, but counted, listed and searchable. A town-level point
      // (the report gives no place) joins its town's group marker instead of a dot.
      if (!f.raw) register(app, f, "unplaced");
      else if (isTownPoint(f)) register(app, f, "grouped");
      else drawable(app, register(app, f, "layer"));
    });
    orderDrawn(app);
    buildSprites(app);
    bindPointer(app);
    app.renderer.redrawAll();
    app.entries.forEach(function (e) {
      if (e.props.parent) {
        var kids = app.children[e.props.parent] = app.children[e.props.parent] || {};
        kids[e.entity] = true;
      }
    });
    // Badges of one entity's years side by side (its features of each year coincide).
    // (only the entities that have one: sorting every entity's list took a while)
    var followed = {};
    app.entries.forEach(function (e) {
      if (e.kind === "layer" && e.props.follow_up) followed[e.entity] = true;
    });
    Object.keys(followed).sort().forEach(function (id) {
      var slot = 0;
      app.byEntity[id].slice().sort(function (a, b) { return a.props.year - b.props.year; })
        .forEach(function (e) {
          if (e.kind === "layer" && e.props.follow_up) e.badge = followMarker(app, e, slot++);
        });
    });
    buildTownGroups(app);

    map.on("popupopen", function (ev) {
      app.popupEntry = ev.popup._lmEntry || null;
      app.popupGroup = ev.popup._lmGroup || null;
      if (app.popupGroup) showGroupCircle(app, app.popupGroup);
      else if (app.popupEntry) showCircles(app, app.popupEntry);
    });
    map.on("popupclose", function (ev) {
      if (ev.popup._lmEntry && ev.popup._lmEntry === app.popupEntry) app.popupEntry = null;
      if (ev.popup._lmGroup && ev.popup._lmGroup === app.popupGroup) app.popupGroup = null;
      app.circles.clearLayers();
    });

    app.api = publicApi(app);
    window.luodianMap = app.api;
    return app;
  };

  function rankOf(f) {
    return f.raw ? (RANK[f.raw.type] === undefined ? 0 : RANK[f.raw.type]) : 0;
  }

  function isTownPoint(f) {
    return f.properties.precision === "town" && f.raw && f.raw.type === "Point";
  }

  function colorOf(app, f) {
    var c = app.categories[f.properties.category];
    return c ? c.color : "#555555";
  }

  function register(app, f, kind) {
    var p = f.properties;
    var entry = {
      id: String(p.id), props: p, feature: f, kind: kind, rank: rankOf(f), visible: true,
      entity: p.entity ? String(p.entity) : String(p.id), badge: null, townGroup: null,
      guess: !!UNCERTAIN[p.precision]
    };
    app.entries.push(entry);
    app.byId[entry.id] = entry;
    (app.byEntity[entry.entity] = app.byEntity[entry.entity] || []).push(entry);
    return entry;
  }

  /* A feature for the canvas: its shapes, their styles and its box (world pixels). */
  function drawable(app, entry) {
    var box = [Infinity, Infinity, -Infinity, -Infinity];
    entry.shapes = shapesOf(entry.feature.raw, box, []);
    entry.styles = [];
    for (var i = 0; i < entry.shapes.length; i++) {
      entry.styles.push(shapeStyle(app, entry.props, entry.shapes[i].kind));
    }
    entry.box = box;
    entry.batch = entry.shapes.length === 1 && !entry.shapes[0].holes;
    app.drawn.push(entry);
  }

  /* The canvas's order: polygons, lines, points; within each, features of one style next
   * to each other (so they share a path), in the order they came (by id). */
  function orderDrawn(app) {
    var cats = {}, precisions = {}, buckets = {};
    app.config.categories.forEach(function (c, i) { cats[c.id] = i; });
    app.config.precisions.forEach(function (p, i) { precisions[p.id] = i; });
    app.drawn.forEach(function (e) {
      var key = (e.rank * 256 + (cats[e.props.category] || 0)) * 16 +
        (precisions[e.props.precision] || 0);
      (buckets[key] = buckets[key] || []).push(e);
    });
    app.drawn = [].concat.apply([], Object.keys(buckets).map(Number)
      .sort(function (a, b) { return a - b; }).map(function (k) { return buckets[k]; }));
    app.drawn.forEach(function (e, i) { e.order = i; });
  }

  /* The geographic bounds of a drawn feature. */
  function boundsOf(app, entry) {
    var crs = app.map.options.crs, b = entry.box;
    return L.latLngBounds(crs.pointToLatLng(L.point(b[0], b[3]), 0),
      crs.pointToLatLng(L.point(b[2], b[1]), 0));
  }

  /* Where a feature's popup opens: a point itself, else the middle of its bounds. */
  function anchorOf(app, entry) {
    if (entry.kind === "grouped") return entry.townGroup.latlng;
    if (entry.kind !== "layer") return null;
    var g = entry.feature.geometry;
    if (g.type === "Point") return L.latLng(g.coordinates[1], g.coordinates[0]);
    return boundsOf(app, entry).getCenter();
  }

  function onMap(app, e) {
    if (!e.visible) return false;
    if (e.kind === "layer") return app.map.hasLayer(app.renderer);
    if (e.kind === "grouped") return e.townGroup.shown;
    return false;
  }

  function isVisible(e) { return e.visible; }

  // ---------------------------------------------------------------- uncertainty circles
  function pointsOf(g, out) {
    if (!g) return out;
    if (g.type === "Point") out.push(L.latLng(g.coordinates[1], g.coordinates[0]));
    else if (g.type === "MultiPoint") {
      g.coordinates.forEach(function (c) { out.push(L.latLng(c[1], c[0])); });
    } else if (g.type === "GeometryCollection") {
      g.geometries.forEach(function (part) { pointsOf(part, out); });
    }
    return out;
  }

  function circle(app, latlng, radius, color, faint) {
    return L.circle(latlng, {
      renderer: app.renderer, radius: radius, color: color, weight: faint ? 1 : 1.5,
      opacity: faint ? 0.45 : 0.9, dashArray: "4 4", fill: !faint, fillColor: color,
      fillOpacity: 0.07, interactive: false
    });
  }

  function uncertaintyCircles(app, entry, faint) {
    var r = Number(entry.props.uncertainty_m);
    if (!(r > 0) || entry.kind !== "layer" || !UNCERTAIN[entry.props.precision]) return [];
    var color = colorOf(app, entry.feature);
    return pointsOf(entry.feature.geometry, []).map(function (ll) {
      return circle(app, ll, r, color, faint);
    });
  }

  function showCircles(app, entry) {
    app.circles.clearLayers();
    if (entry.kind === "grouped") { showGroupCircle(app, entry.townGroup); return; }
    uncertaintyCircles(app, entry, false).forEach(function (c) { app.circles.addLayer(c); });
  }

  function showGroupCircle(app, g) {
    app.circles.clearLayers();
    if (g.radius > 0) app.circles.addLayer(circle(app, g.latlng, g.radius, "#555555", false));
  }

  function drawAllCircles(app) {
    app.allCircles.clearLayers();
    if (!app.showAllCircles) return;
    app.entries.forEach(function (e) {
      if (!e.visible || e.props.precision !== "approximate") return;
      uncertaintyCircles(app, e, true).forEach(function (c) { app.allCircles.addLayer(c); });
    });
  }

  // ---------------------------------------------------------------- follow-up badges
  /* Where a feature's follow-up badge sits: beside a point, on the middle vertex of a
   * line, at the centre of a polygon. */
  function badgeAnchor(app, entry) {
    var g = entry.feature.geometry;
    if (!g) return null;
    if (entry.rank === 2) return pointsOf(g, [])[0] || anchorOf(app, entry);
    if (entry.rank === 1) {
      var parts = g.type === "LineString" ? [g.coordinates] : g.coordinates;
      var longest = parts.reduce(function (a, b) { return b.length > a.length ? b : a; }, []);
      var mid = longest[Math.floor((longest.length - 1) / 2)];
      if (longest.length === 2) {
        mid = [(longest[0][0] + longest[1][0]) / 2, (longest[0][1] + longest[1][1]) / 2];
      }
      if (mid) return L.latLng(mid[1], mid[0]);
    }
    return anchorOf(app, entry);
  }

  function followMarker(app, entry, slot) {
    var kind = entry.props.follow_up, ll = badgeAnchor(app, entry);
    if (!ll) return null;
    var icon = L.divIcon({
      className: "lm-follow-icon", html: followBadge(kind, 15), iconSize: [15, 15],
      // beside a dot (up and to the right), centred on lines and polygons; the next year's
      // badge of the same entity to the right of the previous one
      iconAnchor: entry.rank === 2 ? [-2 - 14 * slot, 17] : [7.5 - 14 * slot, 7.5]
    });
    var marker = L.marker(ll, { icon: icon, keyboard: false, zIndexOffset: 200 });
    marker.bindTooltip(function () {
      return el("span", "lm-tooltip-name", entry.props.name + " · " +
        labelOf(app.config.followUps, kind));
    }, { direction: "top", opacity: 0.95 });
    marker.on("click", function () { openEntry(app, entry); });
    app.badges.addLayer(marker);
    return marker;
  }

  // ---------------------------------------------------------------- town-level groups
  /* Town-level items (the report gives no place) all sit on the town centre: one marker
   * per place with a count that follows the filters; its popup lists them. */
  function buildTownGroups(app) {
    app.entries.forEach(function (e) {
      if (e.kind !== "grouped") return;
      var c = e.feature.raw.parts;  // a point: [lon, lat]
      var level = e.props.geocoder === "district" ? "district" : "town";
      var key = level + ":" + Number(c[1]).toFixed(6) + "," + Number(c[0]).toFixed(6);
      var g = app.townGroupByKey[key];
      if (!g) {
        g = app.townGroupByKey[key] = {
          key: key, level: level, latlng: L.latLng(c[1], c[0]), members: [], towns: {},
          wx: worldX(c[0]), wy: worldY(c[1]), radius: 0, box: null, text: "", sprite: null,
          count: -1, labelled: -1, shown: true
        };
        app.townGroups.push(g);
      }
      g.members.push(e);
      e.townGroup = g;
      if (e.props.town) g.towns[e.props.town] = true;
      g.radius = Math.max(g.radius, Number(e.props.uncertainty_m) || 0);
    });
    app.townGroups.sort(function (a, b) { return a.key < b.key ? -1 : a.key > b.key ? 1 : 0; });
  }

  /* The group markers are drawn on the feature canvas (pills from one image per label,
   * like the dots): as hundreds of elements with text, a dashed rounded border and an icon
   * they took longer to lay out and paint than all the features. Over each pill lies an
   * empty element of its size in a pane of its own (above the markers), for the mouse and
   * the keyboard: a button named by the pill's label, placed by hand and handled once for
   * all; with nothing in it, it costs next to nothing to lay out and nothing to paint. */
  function addTownGroupPane(app) {
    if (!app.townGroups.length) return;
    var map = app.map, pane = map.createPane("lmTownGroups");
    app.townGroups.forEach(function (g) {
      var box = el("div", "lm-town-group-inner lm-town-group-" + g.level);
      box.setAttribute("data-group-key", g.key);
      box.setAttribute("role", "button");
      box.tabIndex = 0;
      g.box = box;
      if (g.sprite) labelGroupBox(g);  // (labelled once shown)
      if (!g.shown) box.style.visibility = "hidden";
      pane.appendChild(box);
    });
    function place(zoom, center) {
      app.townGroups.forEach(function (g) {
        var p = zoom === undefined ? map.latLngToLayerPoint(g.latlng)
          : map._latLngToNewLayerPoint(g.latlng, zoom, center);
        g.box.style.left = p.x + "px";
        g.box.style.top = p.y + "px";
      });
    }
    place();
    map.on("viewreset zoomend", function () { place(); });
    map.on("zoomanim", function (ev) { place(ev.zoom, ev.center); });
    function groupOf(ev) {
      var node = ev.target.closest ? ev.target.closest(".lm-town-group-inner") : null;
      return node ? app.townGroupByKey[node.getAttribute("data-group-key")] : null;
    }
    L.DomEvent.disableClickPropagation(pane);
    L.DomEvent.on(pane, "click", function (ev) {
      var g = groupOf(ev);
      if (g) openGroup(app, g);
    });
    L.DomEvent.on(pane, "keydown", function (ev) {
      var g = groupOf(ev);
      if (g && (ev.key === "Enter" || ev.key === " ")) {
        L.DomEvent.preventDefault(ev);
        openGroup(app, g);
      }
    });
    L.DomEvent.on(pane, "mouseover", function (ev) {
      var g = groupOf(ev);
      if (g) showGroupCircle(app, g);
    });
    L.DomEvent.on(pane, "mouseout", function (ev) {
      var g = groupOf(ev);
      if (g && app.popupGroup !== g && !(app.popupEntry && app.popupEntry.townGroup === g)) {
        app.circles.clearLayers();
      }
    });
  }

  function groupTown(g) { return Object.keys(g.towns).sort().join("、"); }

  function refreshTownGroups(app) {
    var s = app.s, changed = false;
    app.townGroups.forEach(function (g) {
      var n = g.members.filter(isVisible).length;
      g.count = n;
      // a hidden marker keeps its last label: relabelling it would lay it out for nothing
      if (n && n !== g.labelled) {
        g.labelled = n;
        var town = groupTown(g);
        g.text = g.level === "district"
          ? fmt(s.district_group, { town: town, n: n })
          : fmt(app.towns.length > 1 && town ? s.town_group_named : s.town_group,
            { town: town, n: n });
        g.sprite = groupSprite(app, g);
        if (g.box) labelGroupBox(g);
        if (app.popupGroup === g && n) app.groupPopup.setContent(groupContent(app, g));
        changed = true;
      }
      // shown or hidden in place: taking hundreds of markers off the map and creating
      // them again on every filter change is slow
      if (!n !== !g.shown) {
        g.shown = !!n;
        if (g.box) g.box.style.visibility = n ? "" : "hidden";  // in place: no new layout
        if (!n && app.popupGroup === g) app.map.closePopup();
        changed = true;
      }
    });
    if (changed) app.renderer.redrawAll();
  }

  /* The element over a group's pill: its name, count and size. */
  function labelGroupBox(g) {
    var box = g.box, sp = g.sprite;
    box.setAttribute("aria-label", g.text);
    box.setAttribute("data-count", String(g.labelled));
    box.style.width = sp.w + "px";
    box.style.height = sp.h + "px";
    box.style.marginLeft = -sp.w / 2 + "px";
    box.style.marginTop = -sp.h / 2 + "px";
  }

  var GROUP_H = 22;  // px: a group pill's height
  function roundedRect(ctx, x, y, w, h, r) {
    ctx.beginPath();
    ctx.moveTo(x + r, y);
    ctx.arcTo(x + w, y, x + w, y + h, r);
    ctx.arcTo(x + w, y + h, x, y + h, r);
    ctx.arcTo(x, y + h, x, y, r);
    ctx.arcTo(x, y, x + w, y, r);
    ctx.closePath();
  }

  /* A group's pill as an image, one per label (most groups share theirs): a white
   * rounded box with a dashed border, the legend's group symbol and the label. */
  function groupSprite(app, g) {
    var cache = app.groupSprites = app.groupSprites || {};
    var key = g.level + "|" + g.text;
    if (cache[key]) return cache[key];
    if (!app.groupFont) {
      app.groupFont = "600 12.5px " + getComputedStyle(app.map.getContainer()).fontFamily;
    }
    var offscreen = typeof OffscreenCanvas !== "undefined";
    var make = function (w, h) {
      if (offscreen) return new OffscreenCanvas(w, h);
      var c = document.createElement("canvas");
      c.width = w;
      c.height = h;
      return c;
    };
    var scratch = app.groupScratch = app.groupScratch || make(1, 1).getContext("2d");
    scratch.font = app.groupFont;
    var district = g.level === "district", h = GROUP_H;
    var w = Math.ceil(scratch.measureText(g.text).width) + 38;  // border, padding, icon, gap
    var scale = L.Browser.retina ? 2 : 1, cw = w + 2, ch = h + 3;  // room for the shadow
    var canvas = make(cw * scale, ch * scale), ctx = canvas.getContext("2d");
    ctx.scale(scale, scale);
    ctx.translate(1, 1);
    // shadow: the box grown by a pixel and a pixel lower, outside the box only
    roundedRect(ctx, -1, 0, w + 2, h + 2, 12);
    ctx.fillStyle = "rgba(0, 0, 0, 0.2)";
    ctx.fill();
    ctx.globalCompositeOperation = "destination-out";
    roundedRect(ctx, 0, 0, w, h, 11);
    ctx.fill();
    ctx.globalCompositeOperation = "source-over";
    ctx.fillStyle = "rgba(255, 255, 255, 0.95)";
    ctx.fill();
    roundedRect(ctx, 0.75, 0.75, w - 1.5, h - 1.5, 10.25);
    ctx.setLineDash([4.5, 3]);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = district ? "#999999" : "#555555";
    ctx.stroke();
    // the legend's symbol (groupSwatch), 20 x 13
    ctx.save();
    ctx.translate(5.5, (h - 13) / 2);
    ctx.scale(20 / 26, 13 / 16);
    roundedRect(ctx, 1.5, 2.5, 23, 11, 5.5);
    ctx.fillStyle = "#ffffff";
    ctx.fill();
    ctx.setLineDash([2.5, 1.5]);
    ctx.lineWidth = 1.3;
    ctx.strokeStyle = "#555555";
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.beginPath();
    ctx.moveTo(8, 6); ctx.lineTo(18, 6);
    ctx.moveTo(8, 8); ctx.lineTo(16, 8);
    ctx.moveTo(8, 10); ctx.lineTo(17, 10);
    ctx.lineWidth = 1.1;
    ctx.stroke();
    ctx.restore();
    ctx.font = app.groupFont;
    ctx.textBaseline = "middle";
    ctx.fillStyle = district ? "#444444" : "#222222";
    ctx.fillText(g.text, 28.5, h / 2 + 0.5);
    return (cache[key] = {
      image: offscreen ? canvas.transferToImageBitmap() : canvas, w: w, h: h, cw: cw, ch: ch
    });
  }

  /* The shown group pills in view (or in ``clip``), above the features; records which a
   * full draw painted. */
  function drawGroups(app, ctx, clip, area) {
    var groups = app.townGroups;
    if (!groups.length) return;
    var view = viewOf(app.map), k = view.k, ox = view.origin.x, oy = view.origin.y;
    var painted = clip ? null : [];
    ctx.globalAlpha = 1;
    for (var i = 0; i < groups.length; i++) {
      var g = groups[i], sp = g.sprite;
      if (!g.shown || !sp) continue;
      var x = Math.round(g.wx * k - ox - sp.w / 2) - 1, y = Math.round(g.wy * k - oy - sp.h / 2) - 1;
      if (x + sp.cw < area.min.x || x > area.max.x || y + sp.ch < area.min.y || y > area.max.y) {
        continue;
      }
      if (clip && (x + sp.cw < clip.min.x || x > clip.max.x || y + sp.ch < clip.min.y ||
          y > clip.max.y)) continue;
      ctx.drawImage(sp.image, x, y, sp.cw, sp.ch);
      if (painted) painted.push(g.key);
    }
    if (painted) app.paintedGroups = painted;
  }

  function compareEntries(app) {
    var order = {};
    app.config.categories.forEach(function (c, i) { order[c.id] = i; });
    return function (a, b) {
      var ca = order[a.props.category], cb = order[b.props.category];
      if (ca !== cb) return ca - cb;
      if (a.props.year !== b.props.year) return a.props.year - b.props.year;
      return a.props.name < b.props.name ? -1 : a.props.name > b.props.name ? 1 : 0;
    };
  }

  function groupContent(app, g) {
    var s = app.s, town = groupTown(g);
    var shown = g.members.filter(isVisible).sort(compareEntries(app));
    var box = el("div", "lm-group-body");
    box.setAttribute("data-group-key", g.key);
    box.appendChild(el("h3", "lm-popup-name", (town ? town + " · " : "") + fmt(
      g.level === "district" ? s.district_group_title : s.town_group_title, { n: shown.length })));
    box.appendChild(el("div", "lm-note", s.town_group_note));
    var list = el("ul", "lm-group-list");
    shown.forEach(function (e) {
      var item = el("li");
      var button = el("button", "lm-group-item");
      button.type = "button";
      button.setAttribute("data-feature-id", e.id);
      var dot = el("span", "lm-dot");
      dot.style.backgroundColor = colorOf(app, e.feature);
      button.appendChild(dot);
      button.appendChild(el("span", "lm-group-item-name", e.props.name));
      button.appendChild(el("span", "lm-group-item-meta", fmt(s.year_value, { year: e.props.year }) +
        " · " + labelOf(app.config.statuses, e.props.status)));
      if (e.props.follow_up) button.appendChild(followBadge(e.props.follow_up, 13));
      button.addEventListener("click", function () { openEntry(app, e); });
      item.appendChild(button);
      list.appendChild(item);
    });
    box.appendChild(list);
    return box;
  }

  function openGroup(app, g) {
    if (!g || !g.count) return false;
    var popup = L.popup(extend(extend({}, app.popupOptions), { className: "lm-popup lm-popup-group" }))
      .setLatLng(g.latlng).setContent(groupContent(app, g));
    popup._lmGroup = g;
    app.groupPopup = popup;
    popup.openOn(app.map);
    return true;
  }

  /* The popup of any entry: a bound popup for drawn features, one at the group marker
   * for town-level items, one in the middle of the map for items that are not on it. */
  function openEntry(app, entry) {
    if (!entry || !entry.visible) return false;
    if (entry.kind === "layer") {
      openPopupAt(app, entry, anchorOf(app, entry));
      return true;
    }
    var floating = entry.kind === "unplaced";
    var popup = L.popup(extend(extend({}, app.popupOptions),
      { className: "lm-popup" + (floating ? " lm-popup-floating" : "") }))
      .setLatLng(floating ? app.map.getCenter() : entry.townGroup.latlng)
      .setContent(popupContent(app, entry));
    popup._lmEntry = entry;
    popup.openOn(app.map);
    return true;
  }

  /* The feature of an entity to show: a visible one (of ``year`` if given, else the
   * latest), else the latest hidden one; null if the entity is not in the data. */
  function pickFeature(app, entity, year) {
    var all = app.byEntity[entity];
    if (!all || !all.length) return null;
    function best(list) {
      if (!list.length) return null;
      if (year !== null && year !== undefined) {
        var same = list.filter(function (e) { return e.props.year === year; })[0];
        if (same) return same;
      }
      return list.reduce(function (a, b) { return b.props.year > a.props.year ? b : a; });
    }
    return best(all.filter(function (e) { return e.visible && e.kind !== "unplaced"; })) ||
      best(all.filter(isVisible)) || best(all);
  }

  // ---------------------------------------------------------------- popups
  function labelOf(list, id) {
    for (var i = 0; i < list.length; i++) if (list[i].id === id) return list[i].label;
    return id;
  }

  function quantities(value) {
    if (typeof value === "string") {
      try { value = JSON.parse(value); } catch (e) { return value ? [value] : []; }
    }
    if (!Array.isArray(value)) return [];
    return value.map(function (q) {
      if (q && typeof q === "object") {
        return q.text ? String(q.text) : [q.value, q.unit].filter(function (x) {
          return x !== undefined && x !== null;
        }).join(" ");
      }
      return String(q);
    }).filter(function (t) { return t; });
  }

  /* The quote as text nodes, with each occurrence of the name wrapped in <mark>. */
  function highlighted(quote, name, className) {
    var box = el("blockquote", className || "lm-quote");
    quote = quote ? String(quote) : "";
    name = name ? String(name) : "";
    if (!name) { box.textContent = quote; return box; }
    var at = 0, i;
    while ((i = quote.indexOf(name, at)) !== -1) {
      if (i > at) box.appendChild(document.createTextNode(quote.slice(at, i)));
      box.appendChild(el("mark", null, name));
      at = i + name.length;
    }
    if (at < quote.length) box.appendChild(document.createTextNode(quote.slice(at)));
    return box;
  }

  function row(dl, label, value) {
    if (value === undefined || value === null || value === "") return;
    dl.appendChild(el("dt", null, label));
    var dd = el("dd");
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = String(value);
    dl.appendChild(dd);
  }

  function reasonOf(app, entry) {
    return entry.props.geocoder === "none" ? app.s.reason_no_town : app.s.reason_unknown;
  }

  /* A link that shows another feature (jumps to it and opens its popup), or its name
   * and "(hidden by the filter)" when the filter hides it. */
  function linkTo(app, target, text) {
    if (!target.visible) {
      var span = el("span", "lm-link-off", text);
      span.appendChild(el("span", "lm-muted", app.s.hidden));
      return span;
    }
    var a = el("button", "lm-link", text);
    a.type = "button";
    a.setAttribute("data-feature-id", target.id);
    a.addEventListener("click", function () { jumpTo(app, target); });
    return a;
  }

  function entityName(app, entity) {
    var list = app.byEntity[entity];
    return list && list.length ? list[list.length - 1].props.name : entity;
  }

  function links(app, entities, year) {
    var span = el("span", "lm-links");
    entities.forEach(function (id, i) {
      if (i) span.appendChild(document.createTextNode(app.s.list_sep));
      var target = pickFeature(app, id, year);
      span.appendChild(target ? linkTo(app, target, entityName(app, id)) : el("span", null, id));
    });
    return span;
  }

  /* Phases: the parent ("part of …", a link if it is on the map), the other phases of
   * the same parent, and the phases of this one. */
  function relations(app, entry) {
    var s = app.s, p = entry.props, dl = el("dl", "lm-facts lm-relations");
    if (p.parent) {
      var parent = pickFeature(app, String(p.parent), p.year), value;
      if (parent) {
        value = linkTo(app, parent, p.parent_name || parent.props.name);
      } else {
        value = el("span", null, p.parent_name || String(p.parent));
        value.appendChild(el("span", "lm-muted", s.parent_absent));
      }
      row(dl, s.parent, value);
      var siblings = Object.keys(app.children[p.parent] || {}).filter(function (id) {
        return id !== entry.entity;
      }).sort(function (a, b) {
        var na = entityName(app, a), nb = entityName(app, b);
        return na < nb ? -1 : na > nb ? 1 : 0;
      });
      if (siblings.length) row(dl, s.phases, links(app, siblings, p.year));
    }
    var kids = Object.keys(app.children[entry.entity] || {}).sort();
    if (kids.length) row(dl, s.children, links(app, kids, p.year));
    return dl.childNodes.length ? dl : null;
  }

  function followBlock(app, entry) {
    var s = app.s, p = entry.props, kind = p.follow_up;
    var box = el("div", "lm-follow lm-follow-box-" + kind);
    box.appendChild(followBadge(kind, 16));
    var text = el("span", "lm-follow-text");
    text.appendChild(el("strong", "lm-follow-label",
      s.follow_up + s.label_sep + labelOf(app.config.followUps, kind)));
    text.appendChild(el("span", "lm-follow-explain",
      fmt(s["follow_explain_" + kind] || "", { year: p.year })));
    box.appendChild(text);
    return box;
  }

  function currentMention(p) {
    var mentions = Array.isArray(p.mentions) ? p.mentions : [];
    for (var i = 0; i < mentions.length; i++) {
      var m = mentions[i];
      if (m.year === p.year && m.part === p.part && m.report === p.report) return i;
    }
    return -1;
  }

  /* Every mention of the entity, oldest first: year, part, status, report and its quote
   * (two lines, the rest on demand; in full for the mention this feature speaks for,
   * which is marked). The year of another mention opens that year's feature. */
  function timeline(app, entry) {
    var s = app.s, p = entry.props, cfg = app.config;
    var mentions = Array.isArray(p.mentions) ? p.mentions : [];
    if (mentions.length < 2) return null;
    var box = el("div", "lm-timeline-box");
    box.appendChild(el("div", "lm-label", fmt(s.timeline, { n: mentions.length })));
    var list = el("ol", "lm-timeline");
    var current = currentMention(p);
    mentions.forEach(function (m, i) {
      var item = el("li", "lm-tl-item lm-tl-" + (m.part || "other") +
        (i === current ? " lm-current" : ""));
      var head = el("div", "lm-tl-head");
      var yearText = fmt(s.year_value, { year: m.year });
      var other = (app.byEntity[entry.entity] || []).filter(function (e) {
        return e.props.year === m.year && e !== entry;
      })[0];
      head.appendChild(other && other.visible ? linkTo(app, other, yearText)
        : el("span", "lm-tl-year", yearText));
      head.appendChild(el("span", "lm-tl-part", s["part_short_" + m.part] || m.part || ""));
      head.appendChild(el("span", "lm-badge lm-status-" + m.status,
        labelOf(cfg.statuses, m.status)));
      head.appendChild(el("span", "lm-tl-report", m.report));
      if (i === current) head.appendChild(el("span", "lm-tl-this", s.this_mention));
      item.appendChild(head);
      if (m.quote) {
        var quote = highlighted(m.quote, p.name, "lm-tl-quote");
        item.appendChild(quote);
        if (i !== current && String(m.quote).length > 48) {
          quote.classList.add("lm-clamped");
          var more = el("button", "lm-more", s.expand);
          more.type = "button";
          more.addEventListener("click", function () {
            var clamped = quote.classList.toggle("lm-clamped");
            more.textContent = clamped ? s.expand : s.shrink;
          });
          item.appendChild(more);
        }
      }
      list.appendChild(item);
    });
    box.appendChild(list);
    return box;
  }

  function popupContent(app, entry) {
    var s = app.s, p = entry.props, cfg = app.config;
    var box = el("div", "lm-popup-body");
    box.setAttribute("data-feature-id", entry.id);
    if (entry.kind === "grouped") {
      var back = el("button", "lm-back", s.back_to_group);
      back.type = "button";
      back.addEventListener("click", function () { openGroup(app, entry.townGroup); });
      box.appendChild(back);
    }
    box.appendChild(el("h3", "lm-popup-name", p.name));

    var badges = el("div", "lm-badges");
    var cat = el("span", "lm-badge lm-badge-cat",
      cfg.lang === "en" ? labelOf(cfg.categories, p.category) : (p.category_label ||
        labelOf(cfg.categories, p.category)));
    cat.style.backgroundColor = colorOf(app, entry.feature);
    badges.appendChild(cat);
    badges.appendChild(el("span", "lm-badge", fmt(s.year_value, { year: p.year })));
    badges.appendChild(el("span", "lm-badge lm-status-" + p.status, labelOf(cfg.statuses, p.status)));
    if (entry.kind === "unplaced") {
      badges.appendChild(el("span", "lm-badge lm-badge-off", s.badge_unplaced));
    } else if (UNCERTAIN[p.precision]) {
      badges.appendChild(el("span", "lm-badge lm-badge-warn", labelOf(cfg.precisions, p.precision)));
    }
    box.appendChild(badges);

    var rel = relations(app, entry);
    if (rel) box.appendChild(rel);
    if (p.follow_up) box.appendChild(followBlock(app, entry));

    var dl = el("dl", "lm-facts");
    var qs = quantities(p.quantities);
    row(dl, s.quantities, qs.length ? qs.join(s.list_sep) : null);
    if (p.stated_count !== null && p.stated_count !== undefined) {
      row(dl, s.stated_count, p.stated_count);
    }
    row(dl, s.section, p.section);
    row(dl, s.part, p.part ? (s["part_" + p.part] || p.part) : null);
    row(dl, s.report, p.report);
    box.appendChild(dl);

    // The report's sentence: on its own, or as the marked entry of the timeline.
    var tl = timeline(app, entry);
    var current = currentMention(p);
    var inTimeline = tl && current !== -1 && p.mentions[current].quote === p.quote;
    if (p.quote && !inTimeline) {
      box.appendChild(el("div", "lm-label", s.quote));
      box.appendChild(highlighted(p.quote, p.name));
    }
    if (tl) box.appendChild(tl);

    var loc = el("dl", "lm-facts lm-located");
    row(loc, s.geocoder, p.geocoder);
    row(loc, s.precision, labelOf(cfg.precisions, p.precision));
    var u = p.uncertainty_m === null || p.uncertainty_m === undefined ? NaN : Number(p.uncertainty_m);
    row(loc, s.uncertainty, isFinite(u) ? fmt(s.meters, { m: Math.round(u) }) : null);
    if (entry.kind === "unplaced") row(loc, "", reasonOf(app, entry));
    else if (p.precision === "town") {
      row(loc, "", p.geocoder === "district" ? s.district_note : s.town_note);
    }
    else if (p.precision === "approximate") row(loc, "", s.approximate_note);
    box.appendChild(el("div", "lm-label", s.located));
    box.appendChild(loc);
    box.appendChild(el("div", "lm-id", p.id));

    if (app.edit) box.appendChild(app.edit.popupButtons(entry));
    return box;
  }

  // ---------------------------------------------------------------- filtering
  function valueOf(entry, group) {
    if (group === "year") return entry.props.year;
    if (group === "cat") return entry.props.category;
    if (group === "follow") return entry.props.follow_up || "none";
    return entry.props.status;
  }

  function inGroup(state, group, value) {
    var sel = state[group];
    return sel === null || sel.indexOf(value) !== -1;
  }

  /* Whether the switch "显示近似位置" hides the entry: a guess, while the switch is off. */
  function switchedOff(state, entry) { return state.approx === false && entry.guess; }

  function matches(state, entry, except) {
    if (switchedOff(state, entry)) return false;
    for (var i = 0; i < GROUPS.length; i++) {
      var g = GROUPS[i];
      if (g !== except && !inGroup(state, g, valueOf(entry, g))) return false;
    }
    return true;
  }

  /* A selection equal to every option is "all" (null); otherwise keep the options order. */
  function normalise(app, state) {
    var out = { approx: state.approx !== false };
    GROUPS.forEach(function (g) {
      var sel = state[g];
      if (g === "year" && app.config.publication) sel = null;
      if (sel === null || sel === undefined) { out[g] = null; return; }
      var wanted = sel.map(String);
      var kept = app.options[g].filter(function (o) { return wanted.indexOf(String(o)) !== -1; });
      out[g] = kept.length === app.options[g].length ? null : kept;
    });
    return out;
  }

  /* Show what the filter selects: a flag per feature and one redraw of the canvas (the
   * draw order stays polygons, lines, points); town groups and lists follow. */
  function apply(app) {
    var state = app.state, redraw = false;
    app.entries.forEach(function (e) {
      var want = matches(state, e, null);
      if (want === e.visible) return;
      e.visible = want;
      if (!want && app.popupEntry === e) app.map.closePopup();
      if (!want && app.hovered === e) app.hover(null);
      if (e.badge) {
        if (want) app.badges.addLayer(e.badge); else app.badges.removeLayer(e.badge);
      }
      if (e.kind === "layer") redraw = true;
    });
    if (redraw) app.renderer.redrawAll();
    refreshTownGroups(app);
    drawAllCircles(app);
    app.listeners.forEach(function (fn) { fn(app); });
  }

  function setState(app, state, writeHash) {
    app.state = normalise(app, state);
    apply(app);
    if (writeHash) writeStateToHash(app);
  }

  /* For each group, how many features each of its options would show: those that every
   * other group's selection lets through. One pass over the features for all groups. */
  function countAll(app) {
    var out = {};
    GROUPS.forEach(function (g) {
      out[g] = {};
      app.options[g].forEach(function (o) { out[g][o] = 0; });
    });
    app.entries.forEach(function (e) {
      if (switchedOff(app.state, e)) return;
      var failed = null;
      for (var i = 0; i < GROUPS.length; i++) {
        if (inGroup(app.state, GROUPS[i], valueOf(e, GROUPS[i]))) continue;
        if (failed) return;  // left out by two groups: counted in none
        failed = GROUPS[i];
      }
      GROUPS.forEach(function (g) {
        if (failed && g !== failed) return;
        var v = valueOf(e, g);
        if (out[g][v] !== undefined) out[g][v] += 1;
      });
    });
    return out;
  }

  LM.counts = function (app, group) { return countAll(app)[group]; };

  // ---------------------------------------------------------------- URL hash
  function parseHash(app, hash) {
    var state = { year: null, cat: null, status: null, follow: null, approx: true };
    String(hash || "").replace(/^#/, "").split("&").forEach(function (pair) {
      if (!pair) return;
      var at = pair.indexOf("=");
      var key = decodeURIComponent(at === -1 ? pair : pair.slice(0, at));
      var raw = at === -1 ? "" : decodeURIComponent(pair.slice(at + 1));
      if (key === "approx") state.approx = raw !== "0";
      if (GROUPS.indexOf(key) === -1) return;
      var values = raw === "" ? [] : raw.split(",");
      state[key] = key === "year" ? values.map(Number) : values;
    });
    return state;
  }

  function stateToHash(app) {
    var parts = [];
    GROUPS.forEach(function (g) {
      if (app.state[g] !== null) {
        parts.push(g + "=" + app.state[g].map(function (v) {
          return encodeURIComponent(String(v));
        }).join(","));
      }
    });
    if (app.state.approx === false) parts.push("approx=0");
    return parts.join("&");
  }

  function writeStateToHash(app) {
    var hash = stateToHash(app);
    var url = location.href.split("#")[0] + (hash ? "#" + hash : "");
    app.lastHash = hash;
    try {
      history.replaceState(history.state, "", url);
    } catch (e) {
      location.hash = hash;
    }
  }

  function bindHash(app) {
    window.addEventListener("hashchange", function () {
      var hash = location.hash.replace(/^#/, "");
      if (hash === app.lastHash) return;
      app.lastHash = hash;
      setState(app, parseHash(app, hash), false);
    });
  }

  // ---------------------------------------------------------------- filter control
  function optionLabel(app, group, value) {
    if (group === "year") return fmt(app.s.year_value, { year: value });
    if (group === "cat") return app.categories[value].label;
    if (group === "follow") return labelOf(app.config.followUps, value);
    return labelOf(app.config.statuses, value);
  }

  LM.filterControl = function (app, options) {
    var Control = L.Control.extend({
      options: { position: options.position || "topright" },
      onAdd: function () {
        var s = app.s;
        var box = el("div", "lm-panel lm-filter leaflet-bar");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", s.filter);
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);

        var head = el("div", "lm-panel-head");
        head.appendChild(el("span", "lm-panel-title", s.filter));
        var toggle = el("button", "lm-collapse", "▾");
        toggle.type = "button";
        toggle.title = s.collapse;
        toggle.addEventListener("click", function () {
          box.classList.toggle("lm-collapsed");
          toggle.textContent = box.classList.contains("lm-collapsed") ? "▸" : "▾";
        });
        head.appendChild(toggle);
        box.appendChild(head);
        var summary = el("div", "lm-summary");
        box.appendChild(summary);
        var unplaced = unplacedList(app);
        if (unplaced) box.appendChild(unplaced.node);

        var inputs = [];
        var countNodes = { year: {}, cat: {}, status: {}, follow: {} };
        var body = el("div", "lm-panel-body");
        GROUPS.forEach(function (group) {
          if (group === "year" && app.config.publication) return;
          if (!app.options[group].length) return;  // e.g. no follow-up verdicts
          var fs = el("fieldset", "lm-group lm-group-" + group);
          var legend = el("legend", null, s["group_" + group]);
          fs.appendChild(legend);
          app.options[group].forEach(function (value) {
            var label = el("label", "lm-option");
            var input = el("input");
            input.type = "checkbox";
            input.setAttribute("data-group", group);
            input.setAttribute("data-value", String(value));
            input.addEventListener("change", function () { fromInputs(); });
            inputs.push(input);
            label.appendChild(input);
            if (group === "cat") {
              var c = app.categories[value];
              label.appendChild(swatch(c.geometry, c.color, "surveyed"));
            } else if (group === "follow") {
              label.appendChild(value === "none" ? el("span", "lm-badge-space")
                : followBadge(value, 14));
            }
            label.appendChild(el("span", "lm-option-label", optionLabel(app, group, value)));
            var count = el("span", "lm-count", "0");
            countNodes[group][value] = count;
            label.appendChild(count);
            fs.appendChild(label);
          });
          body.appendChild(fs);
        });
        // The switch for guesses (approximate and town-level places), when there are any.
        var approx = null;
        if (app.entries.some(function (e) { return e.guess; })) {
          var afs = el("fieldset", "lm-group lm-group-approx");
          afs.appendChild(el("legend", null, s.group_approx));
          var alabel = el("label", "lm-option");
          approx = el("input", "lm-approx-input");
          approx.type = "checkbox";
          approx.addEventListener("change", function () { fromInputs(); });
          alabel.appendChild(approx);
          alabel.appendChild(swatch("Point", "#555555", "approximate"));
          alabel.appendChild(el("span", "lm-option-label", s.show_approximate));
          var acount = el("span", "lm-count", "0");
          alabel.appendChild(acount);
          afs.appendChild(alabel);
          body.appendChild(afs);
        }
        var reset = el("button", "lm-reset", s.reset);
        reset.type = "button";
        reset.addEventListener("click", function () {
          setState(app, { year: null, cat: null, status: null, follow: null, approx: true },
            true);
        });
        body.appendChild(reset);
        box.appendChild(body);

        function fromInputs() {
          var state = { year: [], cat: [], status: [], follow: [],
            approx: !approx || approx.checked };
          inputs.forEach(function (input) {
            if (!input.checked) return;
            var g = input.getAttribute("data-group"), v = input.getAttribute("data-value");
            state[g].push(g === "year" ? Number(v) : v);
          });
          if (app.config.publication) state.year = null;
          if (!app.options.follow.length) state.follow = null;
          setState(app, state, true);
        }

        function refresh() {
          inputs.forEach(function (input) {
            var g = input.getAttribute("data-group"), v = input.getAttribute("data-value");
            input.checked = app.state[g] === null ||
              app.state[g].map(String).indexOf(v) !== -1;
          });
          var all = countAll(app);
          GROUPS.forEach(function (g) {
            var counts = all[g];
            Object.keys(countNodes[g]).forEach(function (v) {
              setText(countNodes[g][v], String(counts[v] || 0));
              var option = countNodes[g][v].parentNode;
              var selected = app.state[g] === null || app.state[g].map(String).indexOf(v) !== -1;
              option.classList.toggle("lm-off", !selected);
              option.classList.toggle("lm-empty", !counts[v]);
            });
          });
          if (approx) {
            approx.checked = app.state.approx;
            // the guesses that the other filters let through (shown when switched on)
            var on = extend(extend({}, app.state), { approx: true });
            setText(acount, String(app.entries.filter(function (e) {
              return e.guess && matches(on, e, null);
            }).length));
            approx.parentNode.classList.toggle("lm-off", !app.state.approx);
          }
          var shown = app.entries.filter(isVisible).length;
          setText(summary, fmt(s.showing, { n: shown, total: app.entries.length }));
          if (unplaced) unplaced.refresh();
        }
        app.listeners.push(refresh);  // first called by LM.start, once the state is read
        return box;
      }
    });
    return new Control();
  };

  /* "Of which N not on the map": features without geometry that the filter selects, with
   * a list (name, year, reason) that opens each one's popup. */
  function unplacedList(app) {
    var s = app.s;
    var all = app.entries.filter(function (e) { return e.kind === "unplaced"; });
    if (!all.length) return null;
    var node = el("div", "lm-unplaced");
    var toggle = el("button", "lm-unplaced-toggle");
    toggle.type = "button";
    toggle.setAttribute("aria-expanded", "false");
    var list = el("ul", "lm-unplaced-list");
    list.hidden = true;
    node.appendChild(toggle);
    node.appendChild(list);
    toggle.addEventListener("click", function () { show(list.hidden); });

    function show(open) {
      list.hidden = !open;
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      refresh();
    }

    function refresh() {
      var shown = all.filter(isVisible);
      toggle.textContent = fmt(s.unplaced, { n: shown.length }) + (list.hidden ? " ▸" : " ▾");
      toggle.setAttribute("data-count", String(shown.length));
      toggle.disabled = !shown.length && list.hidden;
      if (list.hidden) return;
      list.textContent = "";
      list.appendChild(el("li", "lm-unplaced-title", s.unplaced_title));
      if (!shown.length) list.appendChild(el("li", "lm-muted", s.unplaced_none));
      shown.slice().sort(compareEntries(app)).forEach(function (e) {
        var item = el("li");
        var button = el("button", "lm-unplaced-item");
        button.type = "button";
        button.setAttribute("data-feature-id", e.id);
        button.appendChild(el("span", "lm-unplaced-name", e.props.name));
        button.appendChild(el("span", "lm-unplaced-meta", optionLabel(app, "cat", e.props.category) +
          " · " + fmt(s.year_value, { year: e.props.year })));
        button.appendChild(el("span", "lm-unplaced-reason", reasonOf(app, e)));
        button.addEventListener("click", function () { openEntry(app, e); });
        item.appendChild(button);
        list.appendChild(item);
      });
    }

    app.showUnplaced = function (id) {
      show(true);
      Array.prototype.forEach.call(list.querySelectorAll(".lm-unplaced-item"), function (b) {
        if (b.getAttribute("data-feature-id") === String(id)) b.scrollIntoView({ block: "nearest" });
      });
    };
    return { node: node, refresh: refresh };
  }

  // ---------------------------------------------------------------- legend
  LM.legendControl = function (app, options) {
    var Control = L.Control.extend({
      options: { position: options.position || "bottomleft" },
      onAdd: function () {
        var s = app.s;
        var box = el("div", "lm-panel lm-legend leaflet-bar");
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        box.appendChild(el("div", "lm-panel-title", s.legend_precision));
        var counts = {};
        var rows = [
          { ids: ["surveyed", "sourced"], text: s.legend_exact },
          { ids: ["approximate"], text: s.legend_approximate },
          { ids: ["town"], text: s.legend_town }
        ].filter(function (r) { return !app.config.public || !UNCERTAIN[r.ids[0]]; });
        rows.forEach(function (r) {
          var line = el("div", "lm-legend-row");
          var symbols = el("span", "lm-legend-symbols");
          if (r.ids[0] === "town") {
            symbols.appendChild(groupSwatch());
          } else {
            ["Point", "LineString", "Polygon"].forEach(function (kind) {
              symbols.appendChild(swatch(kind, "#555555", r.ids[0]));
            });
          }
          line.appendChild(symbols);
          var label = el("span", "lm-legend-text");
          label.appendChild(el("strong", null, r.ids.map(function (id) {
            return labelOf(app.config.precisions, id);
          }).join(" / ")));
          label.appendChild(document.createTextNode(" " + r.text + " "));
          var count = el("span", "lm-count", "0");
          counts[r.ids.join(",")] = { node: count, ids: r.ids };
          label.appendChild(count);
          if (r.ids[0] === "approximate") {
            // every uncertainty circle at once, for whoever wants to see them all
            var toggle = el("label", "lm-circles-toggle");
            var input = el("input", "lm-circles-input");
            input.type = "checkbox";
            input.addEventListener("change", function () {
              app.showAllCircles = input.checked;
              drawAllCircles(app);
            });
            toggle.appendChild(input);
            toggle.appendChild(document.createTextNode(s.legend_circles));
            label.appendChild(toggle);
          }
          line.appendChild(label);
          box.appendChild(line);
        });
        var follow = app.options.follow.filter(function (v) { return v !== "none"; });
        if (follow.length) {
          var fline = el("div", "lm-legend-row lm-legend-follow");
          var ftext = el("span", "lm-legend-text");
          ftext.appendChild(el("strong", null, s.legend_follow));
          var keys = el("span", "lm-follow-keys");
          follow.forEach(function (v) {
            var key = el("span", "lm-follow-key");
            key.appendChild(followBadge(v, 14));
            key.appendChild(el("span", null, labelOf(app.config.followUps, v)));
            keys.appendChild(key);
          });
          ftext.appendChild(keys);
          fline.appendChild(ftext);
          box.appendChild(fline);
        }
        if (app.config.hasOutline) {
          var line = el("div", "lm-legend-row");
          var sym = svg("svg", { width: 26, height: 16, viewBox: "0 0 26 16", "class": "lm-swatch" });
          sym.appendChild(svg("rect", { x: 3, y: 3, width: 20, height: 10, fill: "none",
            stroke: "#333333", "stroke-width": 2, "stroke-dasharray": "5 3" }));
          var symbols = el("span", "lm-legend-symbols");
          symbols.appendChild(sym);
          line.appendChild(symbols);
          line.appendChild(el("span", "lm-legend-text", s.outline));
          box.appendChild(line);
        }
        function refresh() {
          var shown = {};  // precision -> features on the map
          app.entries.forEach(function (e) {
            if (e.visible && e.kind !== "unplaced") {
              shown[e.props.precision] = (shown[e.props.precision] || 0) + 1;
            }
          });
          Object.keys(counts).forEach(function (k) {
            setText(counts[k].node, String(counts[k].ids.reduce(function (n, id) {
              return n + (shown[id] || 0);
            }, 0)));
          });
        }
        app.listeners.push(refresh);  // first called by LM.start, once the state is read
        return box;
      }
    });
    return new Control();
  };

  // ---------------------------------------------------------------- pending (public map)
  /* "位置待核实": the items a public map does not draw (their positions are guesses), each
   * with its name, category, year and the report's sentence, as text. */
  LM.pendingPanel = function (app, items, options) {
    app.pending = items;
    var Control = L.Control.extend({
      options: { position: options.position || "topleft" },
      onAdd: function () {
        var s = app.s;
        var box = el("div", "lm-panel lm-pending leaflet-bar");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", s.pending_title);
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        var head = el("div", "lm-panel-head");
        var title = el("span", "lm-panel-title", s.pending_title + " ");
        title.appendChild(el("span", "lm-pending-count", fmt(s.pending_count,
          { n: items.length })));
        head.appendChild(title);
        var toggle = el("button", "lm-collapse", "▾");
        toggle.type = "button";
        toggle.title = s.collapse;
        toggle.addEventListener("click", function () {
          box.classList.toggle("lm-collapsed");
          toggle.textContent = box.classList.contains("lm-collapsed") ? "▸" : "▾";
        });
        head.appendChild(toggle);
        box.appendChild(head);
        var body = el("div", "lm-panel-body");
        body.appendChild(el("p", "lm-pending-note", items.length ? s.pending_note
          : s.pending_none));
        var list = el("ol", "lm-pending-list");
        items.forEach(function (item) {
          var li = el("li", "lm-pending-item");
          li.setAttribute("data-id", item.id);
          li.appendChild(el("span", "lm-pending-name", item.name));
          var meta = [item.category, item.year === null ? null
            : fmt(s.year_value, { year: item.year }),
          labelOf(app.config.precisions, item.precision)].filter(function (x) { return x; });
          li.appendChild(el("span", "lm-pending-meta", meta.join(" · ")));
          li.appendChild(el("q", "lm-pending-quote", item.quote));
          list.appendChild(li);
        });
        body.appendChild(list);
        box.appendChild(body);
        return box;
      }
    });
    return new Control();
  };

  // ---------------------------------------------------------------- outline
  LM.outline = function (app, data) {
    if (!data) return null;
    var style = { color: "#333333", weight: 2, opacity: 0.8, dashArray: "8 5", fill: false,
      interactive: false, renderer: app.renderer };
    app.outlineData = data;
    // lmUnder: the canvas draws it under the features
    app.outline = L.geoJSON(data, { style: function () { return style; }, interactive: false,
      renderer: app.renderer, lmUnder: true });
    app.outline.addTo(app.map);
    return app.outline;
  };

  LM.overviewLayer = function (app, tile) {
    var group = L.layerGroup();
    if (tile) group.addLayer(L.tileLayer(tile.url, tile.options));
    if (app.outlineData) {
      group.addLayer(L.geoJSON(app.outlineData, { style: function () {
        return { color: "#333333", weight: 1, fill: false, interactive: false };
      }, interactive: false }));
    }
    return group;
  };

  // ---------------------------------------------------------------- search
  function jumpTo(app, entry) {
    var map = app.map;
    if (!entry.visible) return;
    if (entry.kind === "unplaced") {
      if (app.showUnplaced) app.showUnplaced(entry.id);
    } else if (entry.kind === "grouped") {
      map.setView(entry.townGroup.latlng, Math.max(map.getZoom(), 14));
    } else if (entry.rank === 2) {
      map.setView(anchorOf(app, entry), Math.max(map.getZoom(), 15));
    } else {
      map.fitBounds(boundsOf(app, entry), { maxZoom: 16, padding: [40, 40] });
    }
    openEntry(app, entry);
  }

  LM.searchControl = function (app, options) {
    var Control = L.Control.extend({
      options: { position: options.position || "topleft" },
      onAdd: function () {
        var s = app.s;
        var box = el("div", "lm-search leaflet-bar");
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        var input = el("input", "lm-search-input");
        input.type = "search";
        input.placeholder = s.search_placeholder;
        input.setAttribute("aria-label", s.search_placeholder);
        var list = el("ul", "lm-search-results");
        box.appendChild(input);
        box.appendChild(list);
        var found = [];
        function update() {
          var q = input.value.trim().toLowerCase();
          list.textContent = "";
          found = [];
          if (!q) return;
          // One hit per entity, for the feature of a year the filter shows (the latest
          // such year), so a hit jumps to what is on the map now.
          var seen = {};
          app.entries.forEach(function (e) {
            if (seen[e.entity] || String(e.props.name).toLowerCase().indexOf(q) === -1) return;
            seen[e.entity] = true;
            found.push(pickFeature(app, e.entity, null));
          });
          found.sort(function (a, b) { return (b.visible ? 1 : 0) - (a.visible ? 1 : 0); });
          if (!found.length) list.appendChild(el("li", "lm-search-none", s.search_none));
          found.slice(0, 12).forEach(function (e) {
            var item = el("li");
            var button = el("button", "lm-search-hit" + (e.visible ? "" : " lm-hidden"));
            button.type = "button";
            button.setAttribute("data-feature-id", e.id);
            button.appendChild(el("span", "lm-search-name", e.props.name));
            var years = app.byEntity[e.entity].map(function (x) { return x.props.year; })
              .sort().map(function (y) { return fmt(s.year_value, { year: y }); });
            button.appendChild(el("span", "lm-search-meta",
              optionLabel(app, "cat", e.props.category) + " · " + years.join(s.list_sep) +
              (e.visible ? (e.kind === "unplaced" ? " " + s.not_on_map : "")
                : " " + s.search_hidden)));
            button.addEventListener("click", function () { jumpTo(app, e); });
            item.appendChild(button);
            list.appendChild(item);
          });
        }
        input.addEventListener("input", update);
        input.addEventListener("keydown", function (ev) {
          if (ev.key === "Enter") {
            var first = found.filter(function (e) { return e.visible; })[0];
            if (first) jumpTo(app, first);
          } else if (ev.key === "Escape") {
            input.value = "";
            update();
          }
        });
        app.listeners.push(function () { if (input.value) update(); });
        return box;
      }
    });
    return new Control();
  };

  // ---------------------------------------------------------------- edit tools
  LM.editTools = function (app, drawnItems, drawControl, options) {
    var s = app.s, map = app.map;
    var drawn = {};  // feature id -> drawn layer
    var pending = null;

    var banner = el("div", "lm-banner");
    banner.hidden = true;
    map.getContainer().appendChild(banner);
    L.DomEvent.disableClickPropagation(banner);
    function say(text) {
      banner.textContent = "";
      banner.hidden = !text;
      if (!text) return;
      banner.appendChild(el("span", null, text));
      var close = el("button", "lm-banner-close", pending ? s.edit_cancel : s.edit_close);
      close.type = "button";
      close.addEventListener("click", function () { pending = null; say(""); stopHandlers(); });
      banner.appendChild(close);
    }

    function stopHandlers() {
      var modes = drawControl._toolbars.draw._modes;
      Object.keys(modes).forEach(function (k) { modes[k].handler.disable(); });
    }

    function remember(entry, layer) {
      if (drawn[entry.id] && drawn[entry.id] !== layer) drawnItems.removeLayer(drawn[entry.id]);
      drawn[entry.id] = layer;
      layer._lmTarget = { id: entry.id, name: entry.props.name };
      layer.bindTooltip(function () { return el("span", null, fmt(s.edit_new_location,
        { name: entry.props.name })); }, { sticky: true });
    }

    map.on(L.Draw.Event.CREATED, function (e) {
      if (!pending) {
        drawnItems.removeLayer(e.layer);
        say(s.edit_no_target);
        return;
      }
      if (!drawnItems.hasLayer(e.layer)) drawnItems.addLayer(e.layer);
      remember(pending, e.layer);
      pending = null;
      stopHandlers();
      say(s.edit_done);
    });

    // Close the popup at once: Leaflet fades it out for 200 ms, and meanwhile the invisible
    // popup would swallow the first click of the drawing.
    function closePopupNow() {
      var popup = map._popup, node = popup && popup.getElement && popup.getElement();
      map.closePopup();
      if (node && node.parentNode) node.parentNode.removeChild(node);
    }

    function startReplace(id) {
      var entry = app.byId[id];
      if (!entry) return false;
      pending = entry;
      closePopupNow();
      say(fmt(s.edit_draw_prompt, { name: entry.props.name }));
      var modes = drawControl._toolbars.draw._modes;
      var type = entry.feature.geometry ? entry.feature.geometry.type : "Point";
      var mode = !entry.feature.geometry || entry.rank === 2 ? "circlemarker"
        : entry.rank === 1 ? "polyline" : "polygon";
      if (type && modes[mode]) { stopHandlers(); modes[mode].handler.enable(); }
      return true;
    }

    function startMove(id) {
      var entry = app.byId[id];
      if (!entry || !entry.feature.geometry) return false;
      closePopupNow();
      var g = entry.feature.geometry, layer;
      if (["Point", "LineString", "Polygon"].indexOf(g.type) === -1) return false;
      if (g.type === "Point") {
        var ll = anchorOf(app, entry);
        layer = L.circleMarker(ll, { radius: 8, color: "#d7191c", weight: 3 });
      } else {
        layer = L.GeoJSON.geometryToLayer({ type: "Feature", geometry: g, properties: {} });
        if (layer.setStyle) layer.setStyle({ color: "#d7191c", weight: 3, dashArray: null });
      }
      drawnItems.addLayer(layer);
      remember(entry, layer);
      say(fmt(s.edit_move_prompt, { name: entry.props.name }));
      var edit = drawControl._toolbars.edit._modes.edit;
      if (edit) edit.handler.enable();
      return true;
    }

    function exportOverrides() {
      var features = [];
      drawnItems.eachLayer(function (layer) {
        if (!layer._lmTarget) return;
        var gj = layer.toGeoJSON(6);
        var geometry = gj.type === "FeatureCollection" ? gj.features[0].geometry : gj.geometry;
        if (app.config.datum === "gcj02") {
          geometry = { type: geometry.type, coordinates: mapCoords(geometry.coordinates, gcj02ToWgs84) };
        }
        features.push({ type: "Feature",
          properties: { id: layer._lmTarget.id, name: layer._lmTarget.name, crs: "wgs84" },
          geometry: geometry });
      });
      features.sort(function (a, b) {
        return a.properties.id < b.properties.id ? -1 : a.properties.id > b.properties.id ? 1 : 0;
      });
      return { type: "FeatureCollection", features: features };
    }

    function download() {
      var data = exportOverrides();
      if (!data.features.length) { say(s.edit_export_empty); return data; }
      var blob = new Blob([JSON.stringify(data, null, 2) + "\n"], { type: "application/geo+json" });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = options.filename || "overrides.geojson";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
      return data;
    }

    var ExportControl = L.Control.extend({
      options: { position: "topleft" },
      onAdd: function () {
        var box = el("div", "leaflet-bar lm-export");
        var button = el("a", "lm-export-button", s.edit_export);
        button.href = "#";
        button.setAttribute("role", "button");
        button.title = s.edit_export_title;
        L.DomEvent.on(button, "click", function (ev) { L.DomEvent.preventDefault(ev); download(); });
        L.DomEvent.disableClickPropagation(box);
        box.appendChild(button);
        return box;
      }
    });
    new ExportControl().addTo(map);

    function activeHandler() {
      var modes = drawControl._toolbars.draw._modes;
      for (var k in modes) if (modes[k].handler.enabled()) return { mode: k, handler: modes[k].handler };
      return null;
    }

    /* The active drawing tool, for tests: {mode, vertices, busy} or null. */
    function drawing() {
      var active = activeHandler();
      if (!active) return null;
      var h = active.handler;
      return { mode: active.mode, vertices: h._markers ? h._markers.length : 0,
        busy: !!h._disableMarkers };
    }

    app.edit = {
      drawing: drawing,
      activeHandler: activeHandler,
      popupButtons: function (entry) {
        var box = el("div", "lm-edit-buttons");
        var replace = el("button", "lm-edit-replace", s.edit_replace);
        replace.type = "button";
        replace.addEventListener("click", function () { startReplace(entry.id); });
        var move = el("button", "lm-edit-move", s.edit_move);
        move.type = "button";
        move.addEventListener("click", function () { startMove(entry.id); });
        box.appendChild(replace);
        var type = entry.feature.geometry ? entry.feature.geometry.type : "";
        // Leaflet.draw edits single points, lines and polygons only.
        if (type === "Point" || type === "LineString" || type === "Polygon") box.appendChild(move);
        return box;
      },
      startReplace: startReplace,
      startMove: startMove,
      exportOverrides: exportOverrides,
      download: download
    };
    return app.edit;
  };

  // ---------------------------------------------------------------- start, test hook
  LM.start = function (app, options) {
    bindHash(app);
    // the state first: the draw that fitting the map makes is then the only one
    var hash = location.hash.replace(/^#/, "");
    app.lastHash = hash;
    setState(app, parseHash(app, hash), false);
    if (options && options.bounds) {
      // at once: an animated zoom would draw everything twice
      app.fitBounds = options.bounds;
      app.map.fitBounds(options.bounds, { animate: false,
        paddingTopLeft: options.paddingTopLeft, paddingBottomRight: options.paddingBottomRight });
    }
    // the pills are on the canvas: their (empty) elements for mouse and keyboard can wait
    LM.afterFirstPaint(app, function () { addTownGroupPane(app); });
    // Printing: lay the map out at the printed size (A3 landscape less 10 mm margins, as
    // in the CSS) and paint the canvas now: the browser prints before the next frame.
    var container = app.map.getContainer();
    var relayout = function (width, height) {
      container.style.width = width;
      container.style.height = height;
      app.map.invalidateSize({ animate: false, pan: false });
      app.map.options.zoomSnap = width ? 0.1 : 1;  // fill the sheet; whole zooms on screen
      // leave room for the title (top) and the filter / legend panel (right)
      if (app.fitBounds) {
        app.map.fitBounds(app.fitBounds, { animate: false, paddingTopLeft: [40, 100],
          paddingBottomRight: [320, 30] });
      }
      app.map.eachLayer(function (layer) {
        if (L.Canvas && layer instanceof L.Canvas) { layer._update(); layer._redraw(); }
      });
    };
    window.addEventListener("beforeprint", function () { relayout("400mm", "277mm"); });
    window.addEventListener("afterprint", function () { relayout("", ""); });
    // The features are painted in the next frame: flag "ready" after it, once the controls
    // that waited for it are there.
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        app.readyTime = performance.now();
        app.later.forEach(function (fn) { fn(); });
        document.body.setAttribute("data-ready", "1");
      });
    });
  };

  /* Run ``fn`` once the features are on screen: for a control that is not needed to see
   * them (the overview map is a second Leaflet map, and building it forces a layout of the
   * whole page). */
  LM.afterFirstPaint = function (app, fn) { app.later.push(fn); };

  function publicApi(app) {
    return {
      /* The features on the map now: drawn, or counted in a town-level group marker. */
      visibleIds: function () {
        return app.entries.filter(function (e) { return onMap(app, e); })
          .map(function (e) { return e.id; }).sort();
      },
      /* The features the filter selects that have no geometry (listed, not drawn). */
      unplacedIds: function () {
        return app.entries.filter(function (e) { return e.kind === "unplaced" && e.visible; })
          .map(function (e) { return e.id; }).sort();
      },
      allIds: function () { return app.entries.map(function (e) { return e.id; }).sort(); },
      /* The features the canvas painted in its last full redraw (visible and in view). */
      paintedIds: function () { return app.painted.slice().sort(); },
      /* The group markers: label, count, shown, painted by the last full draw, members. */
      townGroups: function () {
        return app.townGroups.map(function (g) {
          return { key: g.key, level: g.level, count: g.count, onMap: g.shown,
            label: g.text, painted: app.paintedGroups.indexOf(g.key) !== -1,
            ids: g.members.filter(isVisible).map(function (e) { return e.id; }).sort() };
        });
      },
      openGroup: function (key) { return openGroup(app, app.townGroupByKey[key]); },
      setFilter: function (state) {
        var next = { year: app.state.year, cat: app.state.cat, status: app.state.status,
          follow: app.state.follow, approx: app.state.approx };
        Object.keys(state || {}).forEach(function (k) {
          var key = k === "category" ? "cat" : k;
          if (GROUPS.indexOf(key) !== -1 || key === "approx") next[key] = state[k];
        });
        setState(app, next, true);
        return this.getFilter();
      },
      getFilter: function () {
        return { year: app.state.year, cat: app.state.cat, status: app.state.status,
          follow: app.state.follow, approx: app.state.approx };
      },
      /* The items a public map lists instead of drawing (ids, in the panel's order). */
      pendingIds: function () { return (app.pending || []).map(function (i) { return i.id; }); },
      counts: function (group) { return LM.counts(app, group || "cat"); },
      openPopup: function (id) { return openEntry(app, app.byId[id]); },
      anchor: function (id) {
        var e = app.byId[id];
        var ll = e ? anchorOf(app, e) : null;
        return ll ? [ll.lng, ll.lat] : null;
      },
      startReplace: function (id) { return app.edit ? app.edit.startReplace(id) : false; },
      startMove: function (id) { return app.edit ? app.edit.startMove(id) : false; },
      exportOverrides: function () { return app.edit ? app.edit.exportOverrides() : null; },
      drawing: function () { return app.edit ? app.edit.drawing() : null; },
      drawHandler: function () {
        var active = app.edit ? app.edit.activeHandler() : null;
        return active ? active.handler : null;
      },
      wgs84ToGcj02: wgs84ToGcj02,
      gcj02ToWgs84: gcj02ToWgs84,
      readyTime: function () { return app.readyTime; },
      map: app.map
    };
  }
})();
