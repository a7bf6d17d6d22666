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
          var exact = app.config.outlineExact;  // a real boundary: solid, not "approximate"
          sym.appendChild(svg("rect", { x: 3, y: 3, width: 20, height: 10, fill: "none",
            stroke: "#333333", "stroke-width": 2, "stroke-dasharray": exact ? "none" : "5 3" }));
          var symbols = el("span", "lm-legend-symbols");
          symbols.appendChild(sym);
          line.appendChild(symbols);
          line.appendChild(el("span", "lm-legend-text", exact ? s.outline_exact : s.outline));
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
    var style = { color: "#333333", weight: 2, opacity: 0.8, fill: false,
      dashArray: app.config.outlineExact ? null : "8 5", interactive: false,
      renderer: app.renderer };
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

