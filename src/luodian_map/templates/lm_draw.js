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

