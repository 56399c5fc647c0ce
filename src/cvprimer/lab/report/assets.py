"""The report's stylesheet and script, inlined into the page (no network request of any kind)."""

CSS = r"""
:root { --fg:#1d2430; --muted:#5b6573; --bg:#fff; --card:#f6f8fa; --line:#d8dee4; --accent:#1f6feb;
  --ok:#1a7f37; --bad:#cf222e; --mid:#9a6700; --page:#6e7781; }
* { box-sizing:border-box; }
body { margin:0; font:15px/1.55 system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK SC","PingFang SC",
  "Microsoft YaHei",sans-serif; color:var(--fg); background:var(--bg); }
main { max-width:980px; margin:0 auto; padding:0 16px 64px; }
header.top { background:#0d1117; color:#e6edf3; padding:18px 16px; }
header.top .inner { max-width:980px; margin:0 auto; }
header.top h1 { margin:0 0 4px; font-size:1.45rem; }
header.top p { margin:2px 0; color:#aeb8c4; }
header.top a { color:#79c0ff; }
.controls { position:sticky; top:0; z-index:5; background:#fffffff0; border-bottom:1px solid var(--line);
  padding:8px 16px; display:flex; flex-wrap:wrap; gap:10px 16px; align-items:center; }
.controls label { font-size:.9rem; color:var(--muted); }
.controls .filters { display:contents; }
#ctl-toggle { display:none; font:inherit; font-size:.85rem; padding:2px 10px; cursor:pointer; }
#ctl-toggle::after { content:" \25BE"; } .controls.open #ctl-toggle::after { content:" \25B4"; }
.controls select, .controls input[type=search] { font:inherit; padding:3px 6px; max-width:16em; }
.badge { display:inline-block; border-radius:10px; padding:0 8px; font-size:.78rem; font-weight:600;
  color:#fff; vertical-align:middle; white-space:nowrap; }
.badge.confirmed { background:var(--ok); } .badge.refuted { background:var(--bad); }
.badge.nuanced { background:var(--mid); } .badge.page { background:var(--page); }
.badge.unsettled { background:#8c959f; } .mark { font-size:.8rem; color:#9a6700; }
.beyond { border-left:3px dashed #afb8c1; padding-left:10px; margin:10px 0; }
.badge.pending, .badge.notrun, .badge.error { background:#afb8c1; color:#1d2430; }
.summary { display:flex; gap:12px; flex-wrap:wrap; margin:14px 0; }
.summary div { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:6px 12px; }
nav.index h3 { margin:14px 0 4px; font-size:1rem; }
nav.index ol { margin:0; padding-left:0; list-style:none; columns:2; column-gap:24px; }
nav.index li { break-inside:avoid; margin:2px 0; font-size:.93rem; }
nav.index li.studied a::after { content:" ✓"; color:var(--ok); }
section.question, article.exp { scroll-margin-top:calc(var(--ctl-h, 56px) + 8px); }
section.question { border-top:2px solid var(--line); margin-top:28px; padding-top:8px; }
section.question h2 { font-size:1.2rem; margin:8px 0; }
.seedclaim { background:#fff8c5; border-left:4px solid #d4a72c; padding:6px 10px; margin:8px 0; }
article.exp { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 14px;
  margin:12px 0; }
article.exp h3 { margin:2px 0 6px; font-size:1.05rem; }
.kv { color:var(--muted); font-weight:600; margin-right:4px; }
code, pre { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:.86rem; }
pre { overflow-x:auto; max-width:100%; background:#f0f3f6; border:1px solid var(--line); border-radius:6px;
  padding:8px 10px; margin:6px 0; line-height:1.4; }
details.code pre { max-height:36em; overflow-y:auto; }
:not(pre) > code { overflow-wrap:anywhere; }
details.code summary { cursor:pointer; color:var(--muted); font-size:.88rem; }
.source p { margin:4px 0; } .source { font-size:.9rem; margin-bottom:10px; }
.related { font-size:.9rem; color:var(--muted); margin:4px 0 8px; }
.takeaway { background:#ddf4ff; border-left:4px solid var(--accent); border-radius:0 6px 6px 0; padding:6px 12px;
  margin:10px 0; } .takeaway p { margin:4px 0; }
code.cmd { background:#eaeef2; padding:1px 6px; border-radius:4px; }
table { border-collapse:collapse; margin:8px 0; font-size:.88rem; display:block; overflow-x:auto; }
th, td { border:1px solid var(--line); padding:3px 8px; text-align:left; vertical-align:top; }
th { background:#eaeef2; } td.num { text-align:right; font-variant-numeric:tabular-nums; }
.seedstrip { margin-left:.4em; } .seedstrip svg { vertical-align:middle; }
.seedstrip line { stroke:#9aa4ae; stroke-width:1; } .seedstrip circle { fill:#1f5fa8; fill-opacity:.75; }
figure { margin:10px 0; } figure img { max-width:100%; height:auto; border:1px solid var(--line); background:#fff; }
figcaption { font-size:.85rem; color:var(--muted); }
.answer { border-left:4px solid var(--accent); padding:4px 10px; margin:10px 0; background:#fff; }
.answer[data-verdict=confirmed] { border-color:var(--ok); } .answer[data-verdict=refuted] { border-color:var(--bad); }
.answer[data-verdict=nuanced] { border-color:var(--mid); }
/* study mode: a question's verdicts, evidence, takeaway and beyond-the-claim part stay hidden until it is revealed;
   the errata (every verdict at once) and the summary's badges stay hidden throughout */
button.reveal { display:none; font:inherit; padding:4px 12px; margin:8px 0; cursor:pointer; }
body.study section.question:not(.revealed) > button.reveal { display:inline-block; }
body.study section.question:not(.revealed) :is(.answer, .takeaway, .beyond) { display:none; }
body.study section.question:not(.revealed) .badge:not(.page) { visibility:hidden; }
body.study nav.index li:not(.studied) .badge:not(.page) { visibility:hidden; }
body.study #errata { display:none; } body.study .summary .badge { visibility:hidden; }
.studyhelp, .studyonly { display:none; color:var(--muted); font-size:.88rem; }
body.study .studyhelp { display:block; } body.study .studyonly { display:inline-block; }
#next-unrevealed, #start-over { font:inherit; font-size:.85rem; padding:2px 10px; color:var(--fg); cursor:pointer; }
details.legend { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:6px 12px;
  margin:10px 0; }
details.legend summary { cursor:pointer; font-weight:600; }
details.legend dl { display:grid; grid-template-columns:max-content 1fr; gap:4px 12px; margin:8px 0; }
details.legend dt { font-weight:600; } details.legend dd { margin:0; }
img.zoomable { cursor:zoom-in; }
#zoom { position:fixed; inset:0; z-index:20; background:#000000d9; overflow:auto; cursor:zoom-out; }
#zoom img { display:block; min-width:100%; max-width:none; height:auto; background:#fff; }
.hidden { display:none !important; }
#errata li { margin:6px 0; }
.body p { margin:6px 0; }
.err { color:var(--bad); white-space:pre-wrap; }
@media (max-width:640px) { nav.index ol { columns:1; } body { font-size:14px; }
  /* the filters fold behind a toggle, so the sticky bar stays one short line and never covers a heading */
  .controls { gap:6px 10px; padding:5px 8px; }
  #ctl-toggle { display:inline-block; }
  .controls .filters { display:none; }
  .controls.open .filters { display:flex; flex-direction:column; gap:6px; order:10; flex-basis:100%; }
  .controls label { white-space:nowrap; font-size:.8rem; }
  .controls.open .filters select, .controls.open .filters input[type=search] { max-width:none; width:14em; }
  #next-unrevealed { white-space:nowrap; }
  details.legend dl { grid-template-columns:1fr; }
  main { padding:0 10px 48px; } article.exp { padding:8px 10px; } }
/* print: no controls, every answer shown (study mode or not), plots and tables never split across pages */
@media print { .controls, button.reveal, .studyhelp, #zoom, #no-match { display:none !important; }
  body.study section.question :is(.answer, .takeaway, .beyond) { display:block !important; }
  body.study #errata { display:block !important; }
  body.study .badge { visibility:visible !important; }
  figure, table, pre, .answer, .takeaway { break-inside:avoid; page-break-inside:avoid; }
  h2, h3 { break-after:avoid; } figure img { max-height:24cm; width:auto; }
  section.question, article.exp { scroll-margin-top:0; }
  header.top { background:#fff; color:#000; } header.top p { color:#333; } header.top a { color:#000; } }
"""

JS = r"""
(function () {
  "use strict";
  var body = document.body;
  // study state is kept per page language: the English and the Chinese page are studied separately
  var LANG = (document.documentElement.lang || "en").slice(0, 2);
  var KEY_REVEALED = "cvprimer-lab-revealed-" + LANG, KEY_STUDY = "cvprimer-lab-study-" + LANG;
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.question"));
  var controls = document.querySelector(".controls");
  function load(key, fallback) {
    try { var v = JSON.parse(localStorage.getItem(key)); return v === null ? fallback : v; }
    catch (e) { return fallback; }
  }
  function store(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode: not remembered */ }
  }
  var revealed = load(KEY_REVEALED, {});
  if (!revealed || typeof revealed !== "object") { revealed = {}; }
  // the sticky bar's height, so an index jump lands below it (scroll-margin-top uses --ctl-h)
  function controlsHeight() {
    document.documentElement.style.setProperty("--ctl-h", controls.offsetHeight + "px");
  }
  window.addEventListener("resize", controlsHeight);
  if (window.ResizeObserver) { new ResizeObserver(controlsHeight).observe(controls); }
  controlsHeight();
  function paint() {
    sections.forEach(function (s) {
      var on = !!revealed[s.dataset.q];
      s.classList.toggle("revealed", on);
      var li = document.querySelector('nav.index li[data-q="' + s.dataset.q + '"]');
      if (li) { li.classList.toggle("studied", on); }
    });
  }
  function reveal(section) {
    revealed[section.dataset.q] = 1;
    store(KEY_REVEALED, revealed);
    paint();
  }
  var study = document.getElementById("study");
  function setStudy(on) {
    body.classList.toggle("study", on);
    study.checked = on;
    store(KEY_STUDY, on);
  }
  document.querySelectorAll("button.reveal").forEach(function (b) {
    b.addEventListener("click", function () { reveal(b.closest("section.question")); });
  });
  study.addEventListener("change", function () {
    setStudy(study.checked);
    study.blur();  // a later Space must reveal an answer, not untick study mode
  });
  document.getElementById("start-over").addEventListener("click", function (ev) {
    revealed = {}; store(KEY_REVEALED, revealed); paint(); ev.currentTarget.blur();
  });
  var toggle = document.getElementById("ctl-toggle");
  toggle.addEventListener("click", function () {
    var open = controls.classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    controlsHeight();
  });
  var fv = document.getElementById("f-verdict"), ft = document.getElementById("f-topic");
  var fq = document.getElementById("f-search"), none = document.getElementById("no-match");
  var CJK = /[\u3000-\u9fff\uf900-\ufaff\uff00-\uffef]/;
  // what a search reads of a section: its text without the code (path and excerpt) and the related-questions line
  function searchText(s) {
    if (s._searchText === undefined) {
      var parts = [], walk = document.createTreeWalker(s, NodeFilter.SHOW_TEXT, {
        acceptNode: function (n) {
          var skip = n.parentElement.closest(".source, .related");
          return skip ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
        }
      });
      while (walk.nextNode()) { parts.push(walk.currentNode.nodeValue); }
      s._searchText = parts.join("").toLowerCase();
    }
    return s._searchText;
  }
  // one test per search word: a number (or qN) is a question number, a CJK word a substring, any other word a
  // whole word ("19" finds question 19 only; "pool" does not find "pooling")
  function matcher(query) {
    var words = query.toLowerCase().split(/\s+/).filter(function (w) { return w; });
    var tests = words.map(function (w) {
      var num = /^q?(\d+)$/.exec(w);
      if (num) { var n = String(parseInt(num[1], 10)); return function (s) { return s.dataset.q === n; }; }
      if (CJK.test(w)) { return function (s, text) { return text.indexOf(w) >= 0; }; }
      var re = new RegExp("(^|[^\\p{L}\\p{N}_])" + w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") +
                          "(?=$|[^\\p{L}\\p{N}_])", "u");
      return function (s, text) { return re.test(text); };
    });
    return function (s) {
      if (!tests.length) { return true; }
      var text = searchText(s);
      return tests.every(function (t) { return t(s, text); });
    };
  }
  function applyFilter() {
    var v = fv.value, t = ft.value, match = matcher(fq.value.trim()), shown = 0, counts = {};
    sections.forEach(function (s) {
      var vs = s.dataset.verdicts.split(" ");
      var ok = (v === "all" || vs.indexOf(v) >= 0) && (t === "all" || s.dataset.topic === t) && match(s);
      s.classList.toggle("hidden", !ok);
      var li = document.querySelector('nav.index li[data-q="' + s.dataset.q + '"]');
      if (li) { li.classList.toggle("hidden", !ok); }
      if (ok) { shown += 1; vs.forEach(function (x) { counts[x] = (counts[x] || 0) + 1; }); }
    });
    document.querySelectorAll("nav.index div.topic").forEach(function (d) {
      d.classList.toggle("hidden", !d.querySelector("li:not(.hidden)"));
    });
    document.querySelectorAll("#summary [data-v]").forEach(function (d) {
      d.querySelector(".n").textContent = counts[d.dataset.v] || 0;
    });
    document.getElementById("n-shown").textContent = shown;
    none.classList.toggle("hidden", shown > 0);
  }
  [fv, ft].forEach(function (el) { el.addEventListener("change", applyFilter); });
  fq.addEventListener("input", applyFilter);
  function visible() { return sections.filter(function (s) { return !s.classList.contains("hidden"); }); }
  function current() {
    var vis = visible(), best = vis[0], y = window.scrollY + controls.offsetHeight + 24;
    vis.forEach(function (s) { if (s.offsetTop <= y) { best = s; } });
    return best;
  }
  function nextUnrevealed() {
    var vis = visible(), cur = current(), i = Math.max(vis.indexOf(cur), 0);
    var order = vis.slice(i).concat(vis.slice(0, i));
    var s = order.filter(function (x) { return !x.classList.contains("revealed"); })[0];
    if (s) { s.scrollIntoView(); }
  }
  document.getElementById("next-unrevealed").addEventListener("click", function (ev) {
    nextUnrevealed(); ev.currentTarget.blur();
  });
  var zoom = document.getElementById("zoom");
  function closeZoom() { zoom.classList.add("hidden"); zoom.textContent = ""; }
  document.querySelectorAll("img.zoomable").forEach(function (img) {
    img.addEventListener("click", function () {
      var big = document.createElement("img");
      big.src = img.src; big.alt = img.alt;
      zoom.textContent = ""; zoom.appendChild(big); zoom.classList.remove("hidden"); zoom.focus();
    });
  });
  zoom.addEventListener("click", closeZoom);
  document.addEventListener("keydown", function (ev) {
    if (!zoom.classList.contains("hidden")) { if (ev.key === "Escape") { closeZoom(); } return; }
    var el = ev.target || {}, tag = el.tagName || "";
    if (!body.classList.contains("study") || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    // the search box, the filters and a checkbox reached by Tab keep every key; links and buttons keep Enter
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") { return; }
    var vis = visible(), cur = current(), i = vis.indexOf(cur);
    var space = ev.key === " " || ev.key === "Spacebar";
    if (space || (ev.key === "Enter" && tag !== "A" && tag !== "BUTTON" && tag !== "SUMMARY")) {
      if (cur && !cur.classList.contains("revealed")) { ev.preventDefault(); reveal(cur); }
    } else if (ev.key === "j" || ev.key === "n") {
      if (i + 1 < vis.length) { ev.preventDefault(); vis[i + 1].scrollIntoView(); }
    } else if (ev.key === "k" || ev.key === "p") {
      if (i > 0) { ev.preventDefault(); vis[i - 1].scrollIntoView(); }
    }
  });
  // printing opens the legend (every answer is shown by the print stylesheet); closed again afterwards
  var legend = document.getElementById("legend"), legendWasOpen = false;
  window.addEventListener("beforeprint", function () { legendWasOpen = legend.open; legend.open = true; });
  window.addEventListener("afterprint", function () { legend.open = legendWasOpen; });
  paint();
  if (load(KEY_STUDY, false) === true) { setStudy(true); }
  applyFilter();
})();
"""
