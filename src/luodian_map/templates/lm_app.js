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
    var known = {};  // the categories of the config (an unknown one is not drawn)
    app.options.cat.forEach(function (cat) { known[cat] = true; });
    sorted.forEach(function (f) {
      if (!known[f.properties.category]) return;
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

