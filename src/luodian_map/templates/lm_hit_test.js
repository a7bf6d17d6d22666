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

