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
