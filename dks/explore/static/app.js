// dks explore: the front-end. Plain JavaScript; every name is inserted as text
// (textContent / text nodes), never as markup.
"use strict";
const SVGNS = "http://www.w3.org/2000/svg";
const view = document.getElementById("view");
let OV = null;
// The colours of the two sides of D_KS, the report's (dks._sign.SIGN_COLORS, sent with the
// overview): positive D_KS (presence) and negative D_KS (absence).
const PAL = { pos: "#1f5fa8", neg: "#b0302a" };
function tint(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${a.toFixed(2)})`;
}
const pct = (x, d = 1) => (x == null ? "–" : `${(100 * x).toFixed(d)}%`);
// A malformed escape (a lone "%") in the URL is taken as it is, never an error.
const dec = (p) => { try { return decodeURIComponent(p); } catch { return p; } };

// ---------------------------------------------------------------- export
function save(name, blob) {
  const a = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
// CSV cells: quoted when needed; a text that a spreadsheet would run as a formula starts with '
function csvCell(v) {
  if (v == null) return "";
  let t = String(v);
  if (typeof v === "string" && /^[=+\-@\t\r]/.test(t)) t = "'" + t;
  return /[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
}
function saveCSV(name, header, rows) {
  const text = [header, ...rows].map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
  save(name, new Blob([text], { type: "text/csv;charset=utf-8" }));
}
const fileName = (...parts) => parts.join("_").replace(/[^A-Za-z0-9._-]+/g, "-");
function csvButton(name, header, rows) {
  return el("button", { type: "button", class: "export", on: { click: () => saveCSV(name, header, rows()) } }, "CSV");
}
// A chart with its SVG and PNG downloads (the PNG drawn from the SVG at twice its size).
function exportable(svg, name) {
  const svgText = () => new XMLSerializer().serializeToString(svg);
  const png = () => {
    const img = new Image(), w = +svg.getAttribute("width"), h = +svg.getAttribute("height");
    img.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.width = 2 * w; canvas.height = 2 * h;
      const g = canvas.getContext("2d");
      g.fillStyle = "#fff"; g.fillRect(0, 0, canvas.width, canvas.height);
      g.drawImage(img, 0, 0, canvas.width, canvas.height);
      canvas.toBlob((b) => save(`${name}.png`, b), "image/png");
    };
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svgText());
  };
  return el("div", { class: "chart" }, svg, el("div", { class: "exports" },
    el("button", { type: "button", class: "export", on: { click: () => save(`${name}.svg`, new Blob([svgText()], { type: "image/svg+xml" })) } }, "SVG"),
    el("button", { type: "button", class: "export", on: { click: png } }, "PNG")));
}

// A table sortable by any column (click a header; again: the other way).
// cols: [{label, key, num, cell}] with cell(row) a node or text (default: row[key]).
// onRender(sorted) gets the rows in the order shown (the CSV exports them so).
function sortable(cols, rows, { limit = 300, sortKey = null, desc = true, note = "", onRender = null } = {}) {
  const holder = el("div");
  let key = sortKey, down = desc;
  const render = () => {
    const col = cols.find((c) => c.key === key);
    const sorted = !col ? rows : [...rows].sort((a, b) => {
      const x = col.sort ? col.sort(a) : a[key], y = col.sort ? col.sort(b) : b[key];
      const r = col.num ? (x ?? -Infinity) - (y ?? -Infinity) : String(x).localeCompare(String(y));
      return down ? -r : r;
    });
    const head = el("tr", {}, cols.map((c) => el("th", {
      class: (c.num ? "num " : "") + "sort" + (c.key === key ? (down ? " down" : " up") : ""),
      title: "sort by this column", on: { click: () => { down = c.key === key ? !down : !!c.num; key = c.key; render(); } },
    }, c.label)));
    if (onRender) onRender(sorted);
    const shown = sorted.slice(0, limit);
    holder.replaceChildren(
      el("p", { class: "muted" }, rows.length ? `${rows.length} rows${rows.length > limit ? ` (first ${limit} shown; the CSV has all)` : ""}${note}` : "No row matches these filters."),
      el("table", {}, head, shown.map((r) => el("tr", {}, cols.map((c) => el("td", { class: c.num ? "num" : "" }, c.cell ? c.cell(r) : r[c.key]))))));
  };
  render();
  return holder;
}

// Filters kept in the URL (#/view/...?name=value), so that Back returns to them.
function hashParams() {
  const i = location.hash.indexOf("?");
  return new URLSearchParams(i < 0 ? "" : location.hash.slice(i + 1));
}
function keepFilters(base, controls) {
  const q = new URLSearchParams();
  for (const [k, c] of Object.entries(controls)) if (c.value) q.set(k, c.value);
  const qs = q.toString();
  history.replaceState(null, "", base + (qs ? "?" + qs : ""));
}
function restoreFilters(controls) {
  const q = hashParams();
  for (const [k, c] of Object.entries(controls)) if (q.has(k)) c.value = q.get(k);
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "on") for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
    else e.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k != null) e.append(k instanceof Node ? k : String(k));
  return e;
}
function sv(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text != null) e.textContent = String(text);
  return e;
}
const enc = encodeURIComponent;
const href = (...parts) => "#/" + parts.map(enc).join("/");
const fmt = (x, d = 3) => (x == null ? "–" : Number(x).toFixed(d));
const sgn = (x) => el("span", { class: x > 0 ? "pos" : "neg" }, fmt(x));
async function api(name, params) {
  const q = new URLSearchParams(params || {}).toString();
  const r = await fetch(`/api/${name}${q ? "?" + q : ""}`);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

// Round tick values: steps of 1, 2 or 5 times a power of ten.
function ticks(lo, hi, n = 5) {
  const raw = (hi - lo) / n, p = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw) || p;
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

// A chart: series = [{x, y, color, dash, label}] as lines, bars = [{edges, y, color, label}];
// the legend is a row above the plot, never over the data.
function chart(series, { w = 480, h = 280, xlabel = "", ylabel = "", vlines = [], bars = null, points = null } = {}) {
  const legend = [...series, ...(bars || []), ...(points && points.legend ? points.legend : [])].filter((x) => x.label);
  const perRow = legend.some((x) => x.label.length > 28) ? 1 : 2;  // long names: one a row
  const m = { l: 62, r: 14, t: 14 + 16 * Math.ceil(legend.length / perRow), b: 40 };
  const xs = series.flatMap((s) => s.x), ys = [...series.flatMap((s) => s.y), ...(bars || []).flatMap((b) => b.y)].filter((v) => v != null);
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(0, ...ys), y1 = Math.max(...ys, 1e-9);
  if (x1 <= x0) x1 = x0 + 1;
  const X = (v) => m.l + ((v - x0) / (x1 - x0)) * (w - m.l - m.r);
  const Y = (v) => h - m.b - ((v - y0) / (y1 - y0)) * (h - m.t - m.b);
  const s = sv("svg", { width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img", "font-family": "system-ui, sans-serif", "font-size": 11 });
  for (const v of ticks(y0, y1, 4)) {
    s.append(sv("line", { x1: m.l, x2: w - m.r, y1: Y(v), y2: Y(v), stroke: "#eee" }));
    s.append(sv("text", { x: m.l - 5, y: Y(v) + 4, "text-anchor": "end" }, v));
  }
  for (const v of ticks(x0, x1, 5)) {
    s.append(sv("line", { x1: X(v), x2: X(v), y1: h - m.b, y2: h - m.b + 4, stroke: "#888" }));
    s.append(sv("text", { x: X(v), y: h - m.b + 16, "text-anchor": "middle" }, v));
  }
  s.append(sv("line", { x1: m.l, x2: w - m.r, y1: Y(0), y2: Y(0), stroke: "#888" }));
  s.append(sv("line", { x1: m.l, x2: m.l, y1: m.t, y2: h - m.b, stroke: "#888" }));
  s.append(sv("text", { x: (w + m.l) / 2, y: h - 6, "text-anchor": "middle" }, xlabel));
  const yc = (m.t + h - m.b) / 2;
  s.append(sv("text", { x: 14, y: yc, transform: `rotate(-90 14 ${yc})`, "text-anchor": "middle" }, ylabel));
  for (const b of bars || []) {
    for (let i = 0; i < b.y.length; i++) {
      const xa = X(b.edges[i]), xb = X(b.edges[i + 1]);
      s.append(sv("rect", { x: xa, y: Y(b.y[i]), width: Math.max(xb - xa - 0.5, 0.5), height: Y(0) - Y(b.y[i]), fill: b.color, "fill-opacity": 0.45 }));
    }
  }
  for (const v of vlines) s.append(sv("line", { x1: X(v.x), x2: X(v.x), y1: m.t, y2: h - m.b, stroke: v.color, "stroke-dasharray": "4 3" }));
  for (const p of (points && points.items) || []) s.append(sv("circle", { cx: X(p.x).toFixed(1), cy: Y(p.y).toFixed(1), r: 2.2, fill: p.color, "fill-opacity": 0.6 }));
  for (const se of series) {
    const d = se.x.map((x, i) => (se.y[i] == null ? "" : `${i && se.y[i - 1] != null ? "L" : "M"}${X(x).toFixed(1)},${Y(se.y[i]).toFixed(1)}`)).join("");
    s.append(sv("path", { d, fill: "none", stroke: se.color, "stroke-width": se.width || 1.6, "stroke-dasharray": se.dash || "", "stroke-opacity": se.opacity || 1 }));
  }
  legend.forEach((se, i) => {
    const lx = m.l + (i % perRow) * ((w - m.l - m.r) / 2), ly = 6 + 16 * Math.floor(i / perRow);
    s.append(sv("rect", { x: lx, y: ly, width: 14, height: se.dash ? 2 : 9, fill: se.color, "fill-opacity": se.bar ? 0.45 : 1 }));
    s.append(sv("text", { x: lx + 19, y: ly + 9 }, se.label));
  });
  return s;
}


// ---------------------------------------------------------------- views
function overview() {
  const t = OV.thresholds;
  const tp = Array.isArray(t.t_plus) ? "per class" : fmt(t.t_plus);
  const tm = Array.isArray(t.t_minus) ? "per class" : fmt(t.t_minus);
  const parts = [el("h1", {}, "Overview"),
    el("p", {}, `${OV.classes.length} classes, ${OV.features.length} features in ${OV.layers.length} layers, ${OV.n_images} images. Thresholds (${t.rule}): t+ = ${tp}, t− = ${tm}.`)];
  if (OV.curves) {
    const c = OV.curves;
    // the negative side at negative x, as the report's figure: t+ and t− never overlap
    const neg = c.grid.map((x) => -x);
    parts.push(el("div", { class: "card", id: "davg" }, el("h2", {}, "d_avg: features per class beyond x, true minus shuffled labels (Eq. 4)"),
      el("p", { class: "muted" }, "A count of features, not a D_KS. Dashed: the thresholds, where the curves peak; t− on the left."),
      exportable(chart([{ x: c.grid, y: c.d_avg_plus, color: PAL.pos, label: "d_avg, D_KS > x (presence)" }, { x: neg, y: c.d_avg_minus, color: PAL.neg, label: "d_avg, D_KS < x (absence)" }],
        { xlabel: "x (D_KS)", ylabel: "features per class, true − shuffled", vlines: Array.isArray(t.t_plus) ? [] : [{ x: t.t_plus, color: PAL.pos }, { x: t.t_minus, color: PAL.neg }] }), fileName(OV.folder, "d_avg"))));
  }
  const modes = {
    kept_beyond_chance: { label: "share of features kept beyond chance (%): true − shuffled labels", cell: (v) => fmt(v * 100, 0), color: (v) => tint("#2d6a4f", 0.08 + 0.9 * v) },
    kept_share: { label: "share of features kept (%), chance included", cell: (v) => fmt(v * 100, 0), color: (v) => tint("#2d6a4f", 0.08 + 0.9 * v) },
    median_plus: { label: "median D_KS of the features with D_KS > 0", cell: (v) => fmt(v, 2), color: (v) => tint(PAL.pos, 0.08 + 0.9 * Math.min(1, v)) },
    median_minus: { label: "median D_KS of the features with D_KS < 0", cell: (v) => fmt(v, 2), color: (v) => tint(PAL.neg, 0.08 + 0.9 * Math.min(1, -v)) },
  };
  if (!OV.kept_beyond_chance) delete modes.kept_beyond_chance;
  const mode = el("select", {}, Object.entries(modes).map(([k, m]) => el("option", { value: k }, m.label)));
  const holder = el("div");
  const render = () => {
    const m = modes[mode.value], values = OV[mode.value];
    // 1,000 classes x 16 layers at ImageNet's shape: rows of a flex grid (not a table, whose
    // layout takes seconds at that size), laid out only when scrolled into view.
    const heat = el("div", { class: "heat", role: "table" },
      el("div", { class: "hrow head", role: "row" }, el("span", { class: "name" }, "class"), el("span", { class: "ns", title: "noise share: expected share of noise among the class's kept features" }, "noise share"), OV.layers.map((l) => el("span", { title: l, class: "layer" }, el("span", {}, l)))));
    const body = document.createDocumentFragment();
    OV.classes.forEach((name, i) => {
      const row = document.createElement("div"), link = href("class", name);
      const mostly = OV.mostly_noise && OV.mostly_noise[i];
      row.className = mostly ? "hrow mostly" : "hrow";
      row.setAttribute("role", "row");
      row.append(el("a", { class: "name", href: link, title: mostly ? `${name}: mostly noise` : name }, name),
        el("span", { class: mostly ? "ns warn" : "ns" }, OV.noise_share ? pct(OV.noise_share[i], 0) : "–"));
      row.addEventListener("click", (e) => { if (e.target.tagName !== "A") location.hash = link; });
      values[i].forEach((v, k) => {
        const cell = document.createElement("span");
        cell.title = `${name}, ${OV.layers[k]}: ${v == null ? "none" : m.cell(v)}`;
        if (v != null) { cell.style.background = m.color(v); cell.textContent = m.cell(v); }
        row.append(cell);
      });
      body.append(row);
    });
    heat.append(body);
    holder.replaceChildren(heat);
  };
  mode.addEventListener("input", render);
  render();
  parts.push(el("h2", {}, "Classes × layers"), el("p", { class: "filters" }, "Each cell: ", mode, el("span", { class: "muted" }, "a class's cells open it. Grey, italic: classes whose kept features are mostly noise (noise share above one half).")), holder);
  return parts;
}

// The class's noise share, as the report and class_noise.csv give it (docs: glossary).
function noiseLine(d) {
  const share = d.kept ? pct(d.noise_share) : "– (nothing kept)";
  return el("p", { class: d.mostly_noise ? "noise warn" : "noise", id: "noise-share" },
    el("b", { title: "Expected share of noise among the class's kept (feature, class) pairs: the share kept with shuffled labels divided by the share kept with the true labels." }, "Noise share "),
    el("span", { class: "value" }, share),
    ` — features kept: ${pct(d.kept)} with the true labels, ${pct(d.kept_shuffled)} with shuffled labels (chance); their ratio is the expected share of noise among the kept features.`,
    d.mostly_noise ? el("b", {}, " Mostly noise: this class's kept features are mostly what chance keeps.") : null);
}

// How stable this class's verdict is: two disjoint halves of its images (dks validate).
function stabilityLine(d) {
  const s = d.stability;
  if (!s) return el("p", { class: "muted", id: "stability" }, "Stability of this verdict: not measured (run dks validate on this results folder).");
  const stable = !s.unstable;
  const abl = s.k ? ` Ablation: replacing its ${s.k} features of highest D_KS drops its probe's AUC by ${fmt(s.drop, 4)} (${fmt(s.ratio_random, 1)} × the drop for ${s.k} random features).` : "";
  return el("p", { class: stable ? "stability" : "stability warn", id: "stability" },
    el("b", { title: "Jaccard index of the (feature, class) pairs kept by two disjoint halves of the class's images, mean over random splits; chance: two random sets of the same sizes." }, "How stable is this verdict? "),
    s.jaccard === null ? "neither half keeps a pair" : `Jaccard ${fmt(s.jaccard)} (${fmt(s.jaccard_min)}–${fmt(s.jaccard_max)} over splits; chance ${fmt(s.jaccard_chance)}) between two halves of ${Math.floor(s.size / 2)} images.`,
    stable ? "" : el("b", {}, ` Unstable (below ${s.limit}): another sample would keep other pairs.`), abl);
}

async function classView(name) {
  const d = await api("class", { name });
  const rows = d.dks.map((v, j) => ({ feature: OV.features[j], layer: OV.layers[OV.feature_layer[j]], dks: v, abs: Math.abs(v) }));
  const isKept = (x) => x.dks > d.t_plus || x.dks < d.t_minus;
  rows.forEach((r) => { r.kept = r.dks > d.t_plus ? "presence" : r.dks < d.t_minus ? "absence" : ""; });
  const layer = el("select", { name: "layer" }, el("option", { value: "" }, "all layers"), OV.layers.map((l) => el("option", { value: l }, l)));
  const sign = el("select", { name: "sign" }, el("option", { value: "" }, "any sign"), ["positive", "negative"].map((s) => el("option", { value: s }, s)));
  const kept = el("select", { name: "kept" }, el("option", { value: "" }, "kept"), ["noise", "all"].map((s) => el("option", { value: s }, s)));
  const q = el("input", { type: "search", name: "q", placeholder: "feature name…" });
  const controls = { layer, sign, kept, q };
  restoreFilters(controls);
  const holder = el("div");
  let current = [];
  const render = () => {
    let r = rows.filter((x) => (!layer.value || x.layer === layer.value) && (!q.value || x.feature.includes(q.value)));
    if (sign.value === "positive") r = r.filter((x) => x.dks > 0);
    if (sign.value === "negative") r = r.filter((x) => x.dks < 0);
    if (!kept.value) r = r.filter(isKept);
    if (kept.value === "noise") r = r.filter((x) => !isKept(x));
    holder.replaceChildren(sortable([
      { key: "feature", label: "feature", cell: (x) => el("a", { href: href("feature", x.feature, name) }, x.feature) },
      { key: "layer", label: "layer" },
      { key: "abs", label: "|D_KS|", num: true, cell: (x) => sgn(x.dks) },
      { key: "kept", label: "kept by", cell: (x) => (x.kept ? el("span", { class: x.kept === "presence" ? "pos" : "neg" }, x.kept === "presence" ? "t+ (presence)" : "t− (absence)") : "–") },
    ], r, { sortKey: "abs", onRender: (sorted) => { current = sorted; } }));
  };
  for (const c of Object.values(controls)) c.addEventListener("input", () => { keepFilters(href("class", name), controls); render(); });
  render();
  const series = [{ x: d.grid, y: d.plus, color: PAL.pos, label: "D_KS > t", width: 2.2 }, { x: d.grid, y: d.minus, color: PAL.neg, label: "D_KS < −t", width: 2.2 }];
  d.shuffled.forEach((s, i) => series.push({ x: d.grid, y: s.plus, color: PAL.pos, dash: "3 3", opacity: 0.6, label: i ? null : "shuffled labels (dashed)" }, { x: d.grid, y: s.minus, color: PAL.neg, dash: "3 3", opacity: 0.6 }));
  const other = el("select", { on: { change: (e) => { if (e.target.value) location.hash = href("pair", name, e.target.value); } } },
    el("option", { value: "" }, "compare with class…"), OV.classes.filter((c) => c !== name).map((c) => el("option", { value: c }, c)));
  const csv = csvButton(fileName(name, "features.csv"), ["feature", "layer", "dks", "kept_by"], () => current.map((x) => [x.feature, x.layer, x.dks, x.kept]));
  return [el("p", {}, el("a", { href: "#/" }, "overview"), " › class"), el("h1", {}, name),
    el("p", {}, `${d.n_samples} images; t+ = ${fmt(d.t_plus)}, t− = ${fmt(d.t_minus)}; ${d.n_plus} features characteristic by presence, ${d.n_minus} by absence. `, other),
    noiseLine(d),
    stabilityLine(d),
    el("div", { class: "row" },
      el("div", { class: "card" }, el("h2", {}, "Share of features beyond each threshold (Fig. 9)"),
        exportable(chart(series, { xlabel: "threshold t", ylabel: "share of features", vlines: [{ x: d.t_plus, color: PAL.pos }, { x: Math.abs(d.t_minus), color: PAL.neg }] }), fileName(name, "fig9"))),
      el("div", {}, el("h2", {}, "Features ranked by |D_KS|"), el("div", { class: "filters" }, layer, sign, kept, q, csv), holder))];
}

async function featureView(name, cls) {
  const d = await api("feature", cls ? { name, class: cls } : { name });
  const across = d.dks.map((v, i) => ({ c: OV.classes[i], v, tp: d.t_plus[i], tm: d.t_minus[i],
    kept: v > d.t_plus[i] ? "presence" : v < d.t_minus[i] ? "absence" : "" }));
  let acrossShown = across;
  const pick = el("select", { on: { change: (e) => { location.hash = href("feature", name, e.target.value); } } },
    el("option", { value: "" }, "choose a class…"), OV.classes.map((c) => { const o = el("option", { value: c }, c); if (c === cls) o.selected = true; return o; }));
  const parts = [el("p", {}, el("a", { href: "#/" }, "overview"), " › feature"), el("h1", {}, name), el("p", {}, `layer ${d.layer}. Intra/inter distributions for class `, pick)];
  if (d.fig1) {
    const f = d.fig1;
    const span = [f.edges[0], f.edges[f.edges.length - 1]];
    parts.push(el("div", { class: "row", id: "fig1" },
      el("div", { class: "card" }, el("h2", {}, `Histograms (Fig. 1): D_KS = ${fmt(f.dks)}`),
        exportable(chart([{ x: span, y: [null, null], color: "#fff" }], { xlabel: "activation", ylabel: "share of images",
          bars: [{ edges: f.edges, y: f.inter, color: "#555", bar: true, label: `other classes (${f.n_inter})` }, { edges: f.edges, y: f.intra, color: "#d95f02", bar: true, label: `${f.class} (${f.n_intra})` }] }), fileName(name, f.class, "fig1"))),
      el("div", { class: "card" }, el("h2", {}, "ECDFs; dashed: where they differ most"),
        exportable(chart([{ x: f.points, y: f.ecdf_inter, color: "#555", label: "other classes" }, { x: f.points, y: f.ecdf_intra, color: "#d95f02", label: f.class }], { xlabel: "activation", ylabel: "ECDF", vlines: f.gap_at == null ? [] : [{ x: f.gap_at, color: "#222" }] }), fileName(name, f.class, "ecdf")))));
    if (!d.sample.exact)
      parts.push(el("p", { class: "muted" }, `From a sample of the store: ${f.n_intra} of the ${f.n_class} images of ${f.class}, ${f.n_inter} of the ${f.n_other} images of the other classes (whole row chunks spread over the store).`));
  }
  const images = el("div", { class: "images" }, d.top.map((t) => el("figure", {},
    t.served ? el("img", { src: `/api/image?row=${t.row}`, alt: t.image, loading: "lazy" }) : el("div", { class: "noimg muted" }, "no image file in the results folder"),
    el("figcaption", {}, el("a", { href: href("class", t.class) }, t.class), ` ${fmt(t.value, 2)}`, el("br"), el("span", { class: "muted" }, t.image)))));
  parts.push(el("h2", {}, "Images where its value is largest"),
    el("p", { class: "muted" }, "The largest values, not the largest magnitudes: for a signed feature (EfficientNet-Lite0's block outputs end in a linear projection) they may be negative."),
    d.sample.exact ? null : el("p", { class: "muted" }, `Among the ${d.sample.n} images of the explorer's sample of the ${d.sample.of} (and the chosen class's).`),
    cropsRow(name, "presence", "Cropped to the receptive field of the place where it fires most in each image", d.top.some((t) => t.served) ? null : images), images);
  if (d.fig1 && d.fig1.dks < 0)
    parts.push(el("h2", {}, `Images where it is lowest (it characterizes ${d.fig1.class} by absence)`),
      cropsRow(name, "absence", "Each cropped to the receptive field of the place where it fires most"));
  parts.push(el("h2", { id: "across" }, "D_KS across classes"),
    el("p", { class: "filters" }, el("span", { class: "muted" }, "“kept by”: the class's D_KS passes its t+ (presence) or t− (absence); – : noise for that class."),
      csvButton(fileName(name, "dks_across_classes.csv"), ["class", "dks", "t_plus", "t_minus", "kept_by"], () => acrossShown.map((r) => [r.c, r.v, r.tp, r.tm, r.kept]))),
    sortable([
      { key: "c", label: "class", cell: (r) => el("a", { href: href("feature", name, r.c) }, r.c) },
      { key: "v", label: "D_KS", num: true, cell: (r) => sgn(r.v) },
      { key: "tp", label: "t+", num: true, cell: (r) => fmt(r.tp) },
      { key: "tm", label: "t−", num: true, cell: (r) => fmt(r.tm) },
      { key: "kept", label: "kept by", cell: (r) => (r.kept ? el("span", { class: r.kept === "presence" ? "pos kept" : "neg kept" }, r.kept === "presence" ? "t+ (presence)" : "t− (absence)") : "–") },
    ], across, { sortKey: "v", limit: 2000, onRender: (sorted) => { acrossShown = sorted; } }));
  return parts;
}

// The receptive-field crops, asked after the view is shown: the network runs again on the
// server (one request at a time), which answers "computing" until they are ready.
function cropsRow(name, sign, title, placeholders = null) {
  const holder = el("div", { class: "crops", "data-sign": sign }, el("p", { class: "muted" }, "computing crops…"));
  (async () => {
    let d;
    for (let i = 0; i < 200; i++) {
      try { d = await api("crops", { feature: name, sign }); } catch (err) { d = { status: "unavailable", reason: String(err.message || err) }; }
      if (d.status !== "computing" || (i > 0 && !holder.isConnected)) break;
    }
    if (d.status === "computing") return;
    if (d.status !== "done") {
      holder.replaceChildren(el("p", { class: "muted" }, `No receptive-field crops: ${d.reason}`));
      return;
    }
    if (placeholders) placeholders.remove();  // no whole image to show: the crops instead
    holder.replaceChildren(el("p", { class: "muted" }, d.note || title, d.sample.exact ? "" : ` (among the ${d.sample.n} images of the explorer's sample).`),
      el("div", { class: "images" }, d.crops.map((c) => el("figure", {},
        el("img", { src: `data:image/png;base64,${c.png}`, alt: `${c.image}, rows ${c.box[0]}–${c.box[2]}, columns ${c.box[1]}–${c.box[3]}`, title: `${c.image}: rows ${c.box[0]}–${c.box[2]}, columns ${c.box[1]}–${c.box[3]}` }),
        el("figcaption", {}, c.class ? el("a", { href: href("class", c.class) }, c.class) : null, ` ${fmt(c.value, 2)}`, el("br"), el("span", { class: "muted" }, c.image))))));
  })();
  return holder;
}

async function pairView(a, b) {
  const d = await api("pair", { a, b });
  const pick = (cur, other, make) => el("select", { on: { change: (e) => { location.hash = make(e.target.value); } } },
    OV.classes.filter((c) => c !== other).map((c) => { const o = el("option", { value: c }, c); if (c === cur) o.selected = true; return o; }));
  const rows = d.rows.map((r) => ({ ...r, abs: Math.abs(r.diff) }));
  const layer = el("select", { name: "layer" }, el("option", { value: "" }, "all layers"), OV.layers.map((l) => el("option", { value: l }, l)));
  const sign = el("select", { name: "sign" }, el("option", { value: "" }, "either class"), el("option", { value: "a" }, `characterizes ${a} more`), el("option", { value: "b" }, `characterizes ${b} more`));
  const q = el("input", { type: "search", name: "q", placeholder: "feature name…" });
  const controls = { layer, sign, q };
  restoreFilters(controls);
  const table = el("div"), plot = el("div");
  let current = [], shown = [];
  const render = () => {
    current = rows.filter((x) => (!layer.value || x.layer === layer.value) && (!q.value || x.feature.includes(q.value))
      && (!sign.value || (sign.value === "a" ? x.diff > 0 : x.diff < 0)));
    table.replaceChildren(sortable([
      { key: "feature", label: "feature", cell: (r) => el("a", { href: href("feature", r.feature, a) }, r.feature) },
      { key: "layer", label: "layer" },
      { key: "a", label: `D_KS ${a}`, num: true, cell: (r) => sgn(r.a) },
      { key: "b", label: `D_KS ${b}`, num: true, cell: (r) => sgn(r.b) },
      { key: "abs", label: "|difference|", num: true, cell: (r) => sgn(r.diff) },
    ], current, { sortKey: "abs", onRender: (sorted) => { shown = sorted; } }));
    const pts = current.slice(0, 5000).map((r) => ({ x: r.a, y: r.b, color: r.diff > 0 ? PAL.pos : PAL.neg }));
    plot.replaceChildren(exportable(chart([{ x: [-1, 1], y: [-1, 1], color: "#bbb", dash: "4 3" }], {
      w: 420, h: 380, xlabel: `D_KS for ${a}`, ylabel: `D_KS for ${b}`,
      points: { items: pts, legend: [{ label: `characterizes ${a} more`, color: PAL.pos }, { label: `characterizes ${b} more`, color: PAL.neg }] },
    }), fileName(a, "vs", b)));
  };
  for (const c of Object.values(controls)) c.addEventListener("input", () => { keepFilters(href("pair", a, b), controls); render(); });
  render();
  const csv = csvButton(fileName(a, "vs", b, "features.csv"), ["feature", "layer", `dks_${a}`, `dks_${b}`, "difference"], () => shown.map((r) => [r.feature, r.layer, r.a, r.b, r.diff]));
  return [el("p", {}, el("a", { href: "#/" }, "overview"), " › two classes"), el("h1", {}, `${a} vs ${b}`),
    el("p", { class: "filters" }, "Compare ", pick(a, b, (v) => href("pair", v, b)), " with ", pick(b, a, (v) => href("pair", a, v))),
    el("p", {}, `Every feature, ranked by how much its D_KS differs between the two classes; difference = D_KS(${a}) − D_KS(${b}), positive where the feature characterizes ${a} more. A feature opens with the histograms of ${a}.`),
    el("div", { class: "row" },
      el("div", { class: "card" }, el("h2", {}, "D_KS of each feature in the two classes"), plot,
        el("p", { class: "muted" }, "One point per feature shown (at most 5,000); on the dashed line, as characteristic of both.")),
      el("div", {}, el("div", { class: "filters" }, layer, sign, q, csv), table))];
}

// ---------------------------------------------------------------- router, search
async function route() {
  const path = location.hash.replace(/^#\/?/, "").split("?")[0];
  const parts = path.split("/").filter((p) => p !== "").map(dec);
  try {
    let content;
    if (parts[0] === "class" && parts[1] != null) content = await classView(parts[1]);
    else if (parts[0] === "feature" && parts[1] != null) content = await featureView(parts[1], parts[2]);
    else if (parts[0] === "pair" && parts[2] != null) content = await pairView(parts[1], parts[2]);
    else content = overview();
    view.replaceChildren(...content.filter((x) => x != null));
  } catch (err) {
    view.replaceChildren(el("p", { class: "error" }, String(err.message || err)));
  }
  window.scrollTo(0, 0);
}

const search = document.getElementById("search");
const said = document.getElementById("search-said");
search.addEventListener("input", () => { said.textContent = ""; });
search.addEventListener("change", () => {
  const v = search.value.trim();
  if (OV.classes.includes(v)) location.hash = href("class", v);
  else if (OV.features.includes(v)) location.hash = href("feature", v);
  else {
    const c = OV.classes.find((x) => x.toLowerCase().includes(v.toLowerCase()));
    const f = OV.features.find((x) => x.toLowerCase().includes(v.toLowerCase()));
    if (c) location.hash = href("class", c); else if (f) location.hash = href("feature", f);
    else if (v) { said.textContent = `No class or feature matches “${v}”.`; return; }
  }
  said.textContent = "";
  search.value = "";
});

(async () => {
  try { OV = await api("overview"); } catch (err) {
    view.replaceChildren(el("p", { class: "error" }, `Cannot read the overview: ${err.message || err}`));
    return;
  }
  if (OV.palette) { PAL.pos = OV.palette.presence; PAL.neg = OV.palette.absence; }
  document.documentElement.style.setProperty("--pos", PAL.pos);
  document.documentElement.style.setProperty("--neg", PAL.neg);
  document.getElementById("folder").textContent = OV.folder;
  if (!OV.has_report) document.getElementById("report-link").remove();  // dks report not run
  const list = document.getElementById("names");
  const names = [...OV.classes, ...(OV.features.length <= 20000 ? OV.features : [])];
  window.addEventListener("hashchange", route);
  await route();
  // the search suggestions (10,600 names at ImageNet's shape) once the first view is shown
  setTimeout(() => list.append(...names.map((n) => { const o = document.createElement("option"); o.value = n; return o; })), 0);
})();
