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
  /* The text of a URL escape, or null when it is malformed ("%", "%E0%A4%A"): a hash typed
   * or cut short by hand. */
  function decoded(text) {
    try {
      return decodeURIComponent(text);
    } catch (e) {
      return null;
    }
  }

  /* The filter a hash asks for. Each key on its own: one with a malformed escape, or naming
   * only options this map lacks (a link to another year's map), keeps its default (all),
   * the others still apply. Values are split before they are decoded, as
   * stateToHash encodes them one by one. */
  function parseHash(app, hash) {
    var state = { year: null, cat: null, status: null, follow: null, approx: true };
    String(hash || "").replace(/^#/, "").split("&").forEach(function (pair) {
      if (!pair) return;
      var at = pair.indexOf("=");
      var key = decoded(at === -1 ? pair : pair.slice(0, at));
      var raw = at === -1 ? "" : pair.slice(at + 1);
      if (key === "approx") state.approx = decoded(raw) !== "0";
      if (GROUPS.indexOf(key) === -1) return;
      var values = (raw === "" ? [] : raw.split(",")).map(decoded);
      if (values.indexOf(null) !== -1) return;
      var options = app.options[key].map(String);
      var known = values.filter(function (v) { return options.indexOf(v) !== -1; });
      if (values.length && !known.length) return;  // only options this map lacks: default
      state[key] = key === "year" ? known.map(Number) : known;
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

