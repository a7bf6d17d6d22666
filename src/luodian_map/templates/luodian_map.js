/* luodian-map: the page logic of a rendered map (feature layers, filter, legend, search,
 * edit tools). Inlined into every page by luodian_map.render; the folium elements of
 * render.py only call into it. Report text is never parsed as HTML: every string from the
 * data goes into the DOM through textContent or a text node. */
(function () {
  "use strict";

  var LM = (window.LuodianMap = window.LuodianMap || {});
  var GROUPS = ["year", "cat", "status"];
  var RANK = {
    Polygon: 0, MultiPolygon: 0, GeometryCollection: 0,
    LineString: 1, MultiLineString: 1, Point: 2, MultiPoint: 2
  };
  var UNCERTAIN = { approximate: true, town: true };
  var DASH = { approximate: "7 5", town: "2 5" };

  // ---------------------------------------------------------------- DOM helpers
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
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

  // ---------------------------------------------------------------- the app
  LM.create = function (map, data, config) {
    var app = {
      map: map,
      config: config,
      s: config.strings,
      entries: [],
      byId: {},
      groups: {},
      categories: {},
      state: { year: null, cat: null, status: null },
      options: { year: [], cat: [], status: [] },
      listeners: [],
      townSlots: {},
      readyTime: null,
      // One canvas for all data (fast with thousands of features). The map's default
      // renderer stays SVG: leaflet-measure and Leaflet.draw need SVG paths.
      renderer: L.canvas({ tolerance: 5 })
    };
    config.categories.forEach(function (c) { app.categories[c.id] = c; });

    var present = { year: {}, cat: {}, status: {} };
    data.features.forEach(function (f) {
      present.year[f.properties.year] = true;
      present.cat[f.properties.category] = true;
      present.status[f.properties.status] = true;
    });
    app.options.year = config.years.slice();
    app.options.cat = config.categories.filter(function (c) { return present.cat[c.id]; })
      .map(function (c) { return c.id; });
    app.options.status = config.statuses.map(function (s) { return s.id; });

    // One GeoJSON layer per category, all on the map from the start; features are added
    // polygons first, then lines, then points, so the smaller shapes stay clickable on top.
    app.options.cat.forEach(function (cat) {
      app.groups[cat] = L.geoJSON(null, {
        renderer: app.renderer,
        style: function (f) { return pathStyle(app, f); },
        pointToLayer: function (f, latlng) { return pointLayer(app, f, latlng); },
        onEachFeature: function (f, layer) { register(app, f, layer, app.groups[cat]); }
      }).addTo(map);
    });
    var sorted = data.features.slice().sort(function (a, b) {
      var ra = rankOf(a), rb = rankOf(b);
      if (ra !== rb) return ra - rb;
      return a.properties.id < b.properties.id ? -1 : a.properties.id > b.properties.id ? 1 : 0;
    });
    sorted.forEach(function (f) {
      var g = app.groups[f.properties.category];
      if (g) g.addData(f);
    });
    app.api = publicApi(app);
    window.luodianMap = app.api;
    return app;
  };

  function rankOf(f) {
    return f.geometry ? (RANK[f.geometry.type] === undefined ? 0 : RANK[f.geometry.type]) : 0;
  }

  function colorOf(app, f) {
    var c = app.categories[f.properties.category];
    return c ? c.color : "#555555";
  }

  function pathStyle(app, f) {
    // Points are styled by pointLayer; GeoJSON applies this function to them too.
    if (rankOf(f) === 2) return {};
    var p = f.properties, color = colorOf(app, f);
    var line = rankOf(f) === 1, uncertain = !!UNCERTAIN[p.precision];
    return {
      color: color,
      weight: line ? (uncertain ? 3 : 4) : 2,
      opacity: 0.95,
      dashArray: DASH[p.precision] || null,
      fillColor: color,
      fillOpacity: uncertain ? 0.1 : 0.28,
      lineCap: "round"
    };
  }

  /* Surveyed / sourced: a filled dot. Approximate / town level: a hollow dot and a circle
   * of radius uncertainty_m around where the point is believed to be. */
  function pointLayer(app, f, latlng) {
    var p = f.properties, color = colorOf(app, f);
    if (!UNCERTAIN[p.precision]) {
      return L.circleMarker(latlng, {
        renderer: app.renderer, radius: 7, color: "#ffffff", weight: 1.5, opacity: 1, fillColor: color, fillOpacity: 0.95
      });
    }
    var shown = latlng;
    if (p.precision === "town") {
      // Town-level aggregates all sit on the town centre; spread their markers on a small
      // spiral so each stays clickable (the uncertainty circle keeps the true centre).
      var key = latlng.lat.toFixed(6) + "," + latlng.lng.toFixed(6);
      var k = app.townSlots[key] = (app.townSlots[key] || 0) + 1;
      if (k > 1) {
        var angle = (k - 1) * 2.39996, r = 160 * Math.sqrt(k - 1);
        var dLat = (r * Math.cos(angle)) / 111320;
        var dLng = (r * Math.sin(angle)) / (111320 * Math.cos(latlng.lat * Math.PI / 180));
        shown = L.latLng(latlng.lat + dLat, latlng.lng + dLng);
      }
    }
    // The uncertainty circle is an outline only: dozens of them overlap on real data, and
    // town-level ones (all the same circle round the town centre) are drawn in grey.
    var town = p.precision === "town";
    var circle = L.circle(latlng, {
      renderer: app.renderer,
      radius: Math.max(Number(p.uncertainty_m) || 0, 1), color: town ? "#666666" : color,
      weight: 1, opacity: town ? 0.5 : 0.75, dashArray: town ? "2 6" : "4 4", fill: false,
      interactive: false
    });
    var marker = L.circleMarker(shown, {
      renderer: app.renderer,
      radius: 7, color: color, weight: 3, opacity: 1, fillColor: "#ffffff", fillOpacity: 0.9,
      dashArray: p.precision === "town" ? "3 2" : null
    });
    var group = L.featureGroup([circle, marker]);
    group._lmAnchor = shown;
    return group;
  }

  function register(app, f, layer, group) {
    var entry = {
      id: String(f.properties.id), props: f.properties, feature: f, layer: layer, group: group,
      rank: rankOf(f), visible: true
    };
    app.entries.push(entry);
    app.byId[entry.id] = entry;
    layer.bindPopup(function () { return popupContent(app, entry); },
      { maxWidth: 380, minWidth: 240, autoPanPadding: [40, 40], className: "lm-popup" });
    // Tooltips go on the interactive leaves: Leaflet 1.9.3 fails on nested groups.
    leaves(layer).forEach(function (leaf) {
      if (leaf.options && leaf.options.interactive === false) return;
      leaf.bindTooltip(function () { return el("span", "lm-tooltip-name", entry.props.name); },
        { sticky: true, direction: "top", opacity: 0.95 });
    });
  }

  function leaves(layer) {
    if (!layer.eachLayer) return [layer];
    var out = [];
    layer.eachLayer(function (child) { out = out.concat(leaves(child)); });
    return out;
  }

  function anchorOf(entry) {
    var layer = entry.layer;
    if (layer._lmAnchor) return layer._lmAnchor;
    if (layer.getLatLng) return layer.getLatLng();
    if (layer.getBounds) return layer.getBounds().getCenter();
    return null;
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
  function highlighted(quote, name) {
    var box = el("blockquote", "lm-quote");
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

  function popupContent(app, entry) {
    var s = app.s, p = entry.props, cfg = app.config;
    var box = el("div", "lm-popup-body");
    box.setAttribute("data-feature-id", entry.id);
    box.appendChild(el("h3", "lm-popup-name", p.name));

    var badges = el("div", "lm-badges");
    var cat = el("span", "lm-badge lm-badge-cat",
      cfg.lang === "en" ? labelOf(cfg.categories, p.category) : (p.category_label ||
        labelOf(cfg.categories, p.category)));
    cat.style.backgroundColor = colorOf(app, entry.feature);
    badges.appendChild(cat);
    badges.appendChild(el("span", "lm-badge", fmt(s.year_value, { year: p.year })));
    badges.appendChild(el("span", "lm-badge lm-status-" + p.status, labelOf(cfg.statuses, p.status)));
    if (UNCERTAIN[p.precision]) {
      badges.appendChild(el("span", "lm-badge lm-badge-warn", labelOf(cfg.precisions, p.precision)));
    }
    box.appendChild(badges);

    var dl = el("dl", "lm-facts");
    var qs = quantities(p.quantities);
    row(dl, s.quantities, qs.length ? qs.join(s.list_sep) : null);
    if (p.stated_count !== null && p.stated_count !== undefined) {
      row(dl, s.stated_count, p.stated_count);
    }
    row(dl, s.section, p.section);
    row(dl, s.part, p.part ? (s["part_" + p.part] || p.part) : null);
    box.appendChild(dl);

    if (p.quote) {
      box.appendChild(el("div", "lm-label", s.quote));
      box.appendChild(highlighted(p.quote, p.name));
    }

    var loc = el("dl", "lm-facts lm-located");
    row(loc, s.geocoder, p.geocoder);
    row(loc, s.precision, labelOf(cfg.precisions, p.precision));
    var u = Number(p.uncertainty_m);
    row(loc, s.uncertainty, isFinite(u) ? fmt(s.meters, { m: Math.round(u) }) : null);
    if (p.precision === "town") row(loc, "", s.town_note);
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
    return entry.props.status;
  }

  function inGroup(state, group, value) {
    var sel = state[group];
    return sel === null || sel.indexOf(value) !== -1;
  }

  function matches(state, entry, except) {
    for (var i = 0; i < GROUPS.length; i++) {
      var g = GROUPS[i];
      if (g !== except && !inGroup(state, g, valueOf(entry, g))) return false;
    }
    return true;
  }

  /* A selection equal to every option is "all" (null); otherwise keep the options order. */
  function normalise(app, state) {
    var out = {};
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

  function apply(app) {
    var state = app.state, added = [], anyLine = false;
    app.entries.forEach(function (e) {
      var want = matches(state, e, null);
      if (want === e.visible) return;
      e.visible = want;
      if (want) added.push(e); else { e.layer.closePopup(); e.group.removeLayer(e.layer); }
    });
    // Re-added shapes must go back under the points: polygons to the back, lines above
    // them (then every visible point is brought forward again).
    added.forEach(function (e) { e.group.addLayer(e.layer); if (e.rank === 1) anyLine = true; });
    added.slice().reverse().forEach(function (e) {
      if (e.rank === 0 && e.layer.bringToBack) e.layer.bringToBack();
    });
    if (anyLine) {
      app.entries.forEach(function (e) {
        if (e.visible && e.rank === 2 && e.layer.bringToFront) e.layer.bringToFront();
      });
    }
    app.listeners.forEach(function (fn) { fn(app); });
  }

  function setState(app, state, writeHash) {
    app.state = normalise(app, state);
    apply(app);
    if (writeHash) writeStateToHash(app);
  }

  LM.counts = function (app, group) {
    var out = {};
    app.options[group].forEach(function (o) { out[o] = 0; });
    app.entries.forEach(function (e) {
      if (matches(app.state, e, group)) {
        var v = valueOf(e, group);
        if (out[v] !== undefined) out[v] += 1;
      }
    });
    return out;
  };

  // ---------------------------------------------------------------- URL hash
  function parseHash(app, hash) {
    var state = { year: null, cat: null, status: null };
    String(hash || "").replace(/^#/, "").split("&").forEach(function (pair) {
      if (!pair) return;
      var at = pair.indexOf("=");
      var key = decodeURIComponent(at === -1 ? pair : pair.slice(0, at));
      var raw = at === -1 ? "" : decodeURIComponent(pair.slice(at + 1));
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

        var inputs = [];
        var countNodes = { year: {}, cat: {}, status: {} };
        var body = el("div", "lm-panel-body");
        GROUPS.forEach(function (group) {
          if (group === "year" && app.config.publication) return;
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
            }
            label.appendChild(el("span", "lm-option-label", optionLabel(app, group, value)));
            var count = el("span", "lm-count", "0");
            countNodes[group][value] = count;
            label.appendChild(count);
            fs.appendChild(label);
          });
          body.appendChild(fs);
        });
        var reset = el("button", "lm-reset", s.reset);
        reset.type = "button";
        reset.addEventListener("click", function () {
          setState(app, { year: null, cat: null, status: null }, true);
        });
        body.appendChild(reset);
        box.appendChild(body);

        function fromInputs() {
          var state = { year: [], cat: [], status: [] };
          inputs.forEach(function (input) {
            if (!input.checked) return;
            var g = input.getAttribute("data-group"), v = input.getAttribute("data-value");
            state[g].push(g === "year" ? Number(v) : v);
          });
          if (app.config.publication) state.year = null;
          setState(app, state, true);
        }

        function refresh() {
          inputs.forEach(function (input) {
            var g = input.getAttribute("data-group"), v = input.getAttribute("data-value");
            input.checked = app.state[g] === null ||
              app.state[g].map(String).indexOf(v) !== -1;
          });
          GROUPS.forEach(function (g) {
            var counts = LM.counts(app, g);
            Object.keys(countNodes[g]).forEach(function (v) {
              countNodes[g][v].textContent = String(counts[v] || 0);
              var option = countNodes[g][v].parentNode;
              var selected = app.state[g] === null || app.state[g].map(String).indexOf(v) !== -1;
              option.classList.toggle("lm-off", !selected);
              option.classList.toggle("lm-empty", !counts[v]);
            });
          });
          var shown = app.entries.filter(function (e) { return e.visible; }).length;
          summary.textContent = fmt(s.showing, { n: shown, total: app.entries.length });
        }
        app.listeners.push(refresh);
        refresh();
        return box;
      }
    });
    return new Control();
  };

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
        ];
        rows.forEach(function (r) {
          var line = el("div", "lm-legend-row");
          var symbols = el("span", "lm-legend-symbols");
          ["Point", "LineString", "Polygon"].forEach(function (kind) {
            if (r.ids[0] === "town" && kind !== "Point") return;
            symbols.appendChild(swatch(kind, "#555555", r.ids[0]));
          });
          line.appendChild(symbols);
          var label = el("span", "lm-legend-text");
          label.appendChild(el("strong", null, r.ids.map(function (id) {
            return labelOf(app.config.precisions, id);
          }).join(" / ")));
          label.appendChild(document.createTextNode(" " + r.text + " "));
          var count = el("span", "lm-count", "0");
          counts[r.ids.join(",")] = { node: count, ids: r.ids };
          label.appendChild(count);
          line.appendChild(label);
          box.appendChild(line);
        });
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
          Object.keys(counts).forEach(function (k) {
            var n = app.entries.filter(function (e) {
              return e.visible && counts[k].ids.indexOf(e.props.precision) !== -1;
            }).length;
            counts[k].node.textContent = String(n);
          });
        }
        app.listeners.push(refresh);
        refresh();
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
    app.outline = L.geoJSON(data, { style: function () { return style; }, interactive: false,
      renderer: app.renderer });
    app.outline.addTo(app.map);
    if (app.outline.bringToBack) app.outline.bringToBack();
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
    var map = app.map, layer = entry.layer;
    if (entry.rank === 2 || !layer.getBounds) {
      map.setView(anchorOf(entry), Math.max(map.getZoom(), 15));
    } else {
      map.fitBounds(layer.getBounds(), { maxZoom: 16, padding: [40, 40] });
    }
    if (entry.visible) layer.openPopup(anchorOf(entry));
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
          app.entries.forEach(function (e) {
            if (String(e.props.name).toLowerCase().indexOf(q) !== -1) found.push(e);
          });
          found.sort(function (a, b) { return (b.visible ? 1 : 0) - (a.visible ? 1 : 0); });
          if (!found.length) list.appendChild(el("li", "lm-search-none", s.search_none));
          found.slice(0, 12).forEach(function (e) {
            var item = el("li");
            var button = el("button", "lm-search-hit" + (e.visible ? "" : " lm-hidden"));
            button.type = "button";
            button.setAttribute("data-feature-id", e.id);
            button.appendChild(el("span", "lm-search-name", e.props.name));
            button.appendChild(el("span", "lm-search-meta",
              optionLabel(app, "cat", e.props.category) + " · " +
              fmt(s.year_value, { year: e.props.year }) + (e.visible ? "" : " " + s.search_hidden)));
            button.addEventListener("click", function () {
              if (e.visible) { jumpTo(app, e); }
            });
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
      var mode = entry.rank === 2 ? "circlemarker" : entry.rank === 1 ? "polyline" : "polygon";
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
        var ll = anchorOf(entry);
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
    var hash = location.hash.replace(/^#/, "");
    app.lastHash = hash;
    setState(app, parseHash(app, hash), false);
    if (options && options.bounds) app.fitBounds = options.bounds;
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
    // Canvas layers paint on the next animation frame: flag "ready" after it.
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        app.readyTime = performance.now();
        document.body.setAttribute("data-ready", "1");
      });
    });
  };

  function publicApi(app) {
    return {
      visibleIds: function () {
        return app.entries.filter(function (e) { return e.visible && app.map.hasLayer(e.layer); })
          .map(function (e) { return e.id; }).sort();
      },
      allIds: function () { return app.entries.map(function (e) { return e.id; }).sort(); },
      setFilter: function (state) {
        var next = { year: app.state.year, cat: app.state.cat, status: app.state.status };
        Object.keys(state || {}).forEach(function (k) {
          var key = k === "category" ? "cat" : k;
          if (GROUPS.indexOf(key) !== -1) next[key] = state[k];
        });
        setState(app, next, true);
        return this.getFilter();
      },
      getFilter: function () {
        return { year: app.state.year, cat: app.state.cat, status: app.state.status };
      },
      counts: function (group) { return LM.counts(app, group || "cat"); },
      openPopup: function (id) {
        var e = app.byId[id];
        if (!e || !e.visible) return false;
        e.layer.openPopup(anchorOf(e));
        return true;
      },
      anchor: function (id) {
        var e = app.byId[id];
        var ll = e ? anchorOf(e) : null;
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
