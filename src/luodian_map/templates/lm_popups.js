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
  function highlighted(quote, name, className) {
    var box = el("blockquote", className || "lm-quote");
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

  function reasonOf(app, entry) {
    return entry.props.geocoder === "none" ? app.s.reason_no_town : app.s.reason_unknown;
  }

  /* A link that shows another feature (jumps to it and opens its popup), or its name
   * and "(hidden by the filter)" when the filter hides it. */
  function linkTo(app, target, text) {
    if (!target.visible) {
      var span = el("span", "lm-link-off", text);
      span.appendChild(el("span", "lm-muted", app.s.hidden));
      return span;
    }
    var a = el("button", "lm-link", text);
    a.type = "button";
    a.setAttribute("data-feature-id", target.id);
    a.addEventListener("click", function () { jumpTo(app, target); });
    return a;
  }

  function entityName(app, entity) {
    var list = app.byEntity[entity];
    return list && list.length ? list[list.length - 1].props.name : entity;
  }

  function links(app, entities, year) {
    var span = el("span", "lm-links");
    entities.forEach(function (id, i) {
      if (i) span.appendChild(document.createTextNode(app.s.list_sep));
      var target = pickFeature(app, id, year);
      span.appendChild(target ? linkTo(app, target, entityName(app, id)) : el("span", null, id));
    });
    return span;
  }

  /* Phases: the parent ("part of …", a link if it is on the map), the other phases of
   * the same parent, and the phases of this one. */
  function relations(app, entry) {
    var s = app.s, p = entry.props, dl = el("dl", "lm-facts lm-relations");
    if (p.parent) {
      var parent = pickFeature(app, String(p.parent), p.year), value;
      if (parent) {
        value = linkTo(app, parent, p.parent_name || parent.props.name);
      } else {
        value = el("span", null, p.parent_name || String(p.parent));
        value.appendChild(el("span", "lm-muted", s.parent_absent));
      }
      row(dl, s.parent, value);
      var siblings = Object.keys(app.children[p.parent] || {}).filter(function (id) {
        return id !== entry.entity;
      }).sort(function (a, b) {
        var na = entityName(app, a), nb = entityName(app, b);
        return na < nb ? -1 : na > nb ? 1 : 0;
      });
      if (siblings.length) row(dl, s.phases, links(app, siblings, p.year));
    }
    var kids = Object.keys(app.children[entry.entity] || {}).sort();
    if (kids.length) row(dl, s.children, links(app, kids, p.year));
    return dl.childNodes.length ? dl : null;
  }

  function followBlock(app, entry) {
    var s = app.s, p = entry.props, kind = p.follow_up;
    var box = el("div", "lm-follow lm-follow-box-" + kind);
    box.appendChild(followBadge(kind, 16));
    var text = el("span", "lm-follow-text");
    text.appendChild(el("strong", "lm-follow-label",
      s.follow_up + s.label_sep + labelOf(app.config.followUps, kind)));
    text.appendChild(el("span", "lm-follow-explain",
      fmt(s["follow_explain_" + kind] || "", { year: p.year })));
    box.appendChild(text);
    return box;
  }

  function currentMention(p) {
    var mentions = Array.isArray(p.mentions) ? p.mentions : [];
    for (var i = 0; i < mentions.length; i++) {
      var m = mentions[i];
      if (m.year === p.year && m.part === p.part && m.report === p.report) return i;
    }
    return -1;
  }

  /* Every mention of the entity, oldest first: year, part, status, report and its quote
   * (two lines, the rest on demand; in full for the mention this feature speaks for,
   * which is marked). The year of another mention opens that year's feature. */
  function timeline(app, entry) {
    var s = app.s, p = entry.props, cfg = app.config;
    var mentions = Array.isArray(p.mentions) ? p.mentions : [];
    if (mentions.length < 2) return null;
    var box = el("div", "lm-timeline-box");
    box.appendChild(el("div", "lm-label", fmt(s.timeline, { n: mentions.length })));
    var list = el("ol", "lm-timeline");
    var current = currentMention(p);
    mentions.forEach(function (m, i) {
      var item = el("li", "lm-tl-item lm-tl-" + (m.part || "other") +
        (i === current ? " lm-current" : ""));
      var head = el("div", "lm-tl-head");
      var yearText = fmt(s.year_value, { year: m.year });
      var other = (app.byEntity[entry.entity] || []).filter(function (e) {
        return e.props.year === m.year && e !== entry;
      })[0];
      head.appendChild(other && other.visible ? linkTo(app, other, yearText)
        : el("span", "lm-tl-year", yearText));
      head.appendChild(el("span", "lm-tl-part", s["part_short_" + m.part] || m.part || ""));
      head.appendChild(el("span", "lm-badge lm-status-" + m.status,
        labelOf(cfg.statuses, m.status)));
      head.appendChild(el("span", "lm-tl-report", m.report));
      if (i === current) head.appendChild(el("span", "lm-tl-this", s.this_mention));
      item.appendChild(head);
      if (m.quote) {
        var quote = highlighted(m.quote, p.name, "lm-tl-quote");
        item.appendChild(quote);
        if (i !== current && String(m.quote).length > 48) {
          quote.classList.add("lm-clamped");
          var more = el("button", "lm-more", s.expand);
          more.type = "button";
          more.addEventListener("click", function () {
            var clamped = quote.classList.toggle("lm-clamped");
            more.textContent = clamped ? s.expand : s.shrink;
          });
          item.appendChild(more);
        }
      }
      list.appendChild(item);
    });
    box.appendChild(list);
    return box;
  }

  function popupContent(app, entry) {
    var s = app.s, p = entry.props, cfg = app.config;
    var box = el("div", "lm-popup-body");
    box.setAttribute("data-feature-id", entry.id);
    if (entry.kind === "grouped") {
      var back = el("button", "lm-back", s.back_to_group);
      back.type = "button";
      back.addEventListener("click", function () { openGroup(app, entry.townGroup); });
      box.appendChild(back);
    }
    box.appendChild(el("h3", "lm-popup-name", p.name));

    var badges = el("div", "lm-badges");
    var cat = el("span", "lm-badge lm-badge-cat",
      cfg.lang === "en" ? labelOf(cfg.categories, p.category) : (p.category_label ||
        labelOf(cfg.categories, p.category)));
    cat.style.backgroundColor = colorOf(app, entry.feature);
    badges.appendChild(cat);
    badges.appendChild(el("span", "lm-badge", fmt(s.year_value, { year: p.year })));
    badges.appendChild(el("span", "lm-badge lm-status-" + p.status, labelOf(cfg.statuses, p.status)));
    if (entry.kind === "unplaced") {
      badges.appendChild(el("span", "lm-badge lm-badge-off", s.badge_unplaced));
    } else if (UNCERTAIN[p.precision]) {
      badges.appendChild(el("span", "lm-badge lm-badge-warn", labelOf(cfg.precisions, p.precision)));
    }
    box.appendChild(badges);

    var rel = relations(app, entry);
    if (rel) box.appendChild(rel);
    if (p.follow_up) box.appendChild(followBlock(app, entry));

    var dl = el("dl", "lm-facts");
    var qs = quantities(p.quantities);
    row(dl, s.quantities, qs.length ? qs.join(s.list_sep) : null);
    if (p.stated_count !== null && p.stated_count !== undefined) {
      row(dl, s.stated_count, p.stated_count);
    }
    row(dl, s.section, p.section);
    row(dl, s.part, p.part ? (s["part_" + p.part] || p.part) : null);
    row(dl, s.report, p.report);
    box.appendChild(dl);

    // The report's sentence: on its own, or as the marked entry of the timeline.
    var tl = timeline(app, entry);
    var current = currentMention(p);
    var inTimeline = tl && current !== -1 && p.mentions[current].quote === p.quote;
    if (p.quote && !inTimeline) {
      box.appendChild(el("div", "lm-label", s.quote));
      box.appendChild(highlighted(p.quote, p.name));
    }
    if (tl) box.appendChild(tl);

    var loc = el("dl", "lm-facts lm-located");
    row(loc, s.geocoder, p.geocoder);
    row(loc, s.precision, labelOf(cfg.precisions, p.precision));
    var u = p.uncertainty_m === null || p.uncertainty_m === undefined ? NaN : Number(p.uncertainty_m);
    row(loc, s.uncertainty, isFinite(u) ? fmt(s.meters, { m: Math.round(u) }) : null);
    if (entry.kind === "unplaced") row(loc, "", reasonOf(app, entry));
    else if (p.precision === "town") {
      row(loc, "", p.geocoder === "district" ? s.district_note : s.town_note);
    }
    else if (p.precision === "approximate") row(loc, "", s.approximate_note);
    box.appendChild(el("div", "lm-label", s.located));
    box.appendChild(loc);
    box.appendChild(el("div", "lm-id", p.id));

    if (app.edit) box.appendChild(app.edit.popupButtons(entry));
    return box;
  }

