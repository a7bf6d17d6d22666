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

