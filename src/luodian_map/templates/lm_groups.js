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

