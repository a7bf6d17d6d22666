/* luodian-map: the page logic of a rendered map (features, filter, legend, search, edit
 * tools), joined from templates/lm_*.js and inlined into every page by luodian_map.web; the
 * folium elements of web/elements/ only call into it. Report text is never parsed as HTML:
 * every string from the data goes into the DOM through textContent or a text node.
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

