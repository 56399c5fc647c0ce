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
code.cmd { background:#eaeef2; padding:1px 6px; border-radius:4px; }
table { border-collapse:collapse; margin:8px 0; font-size:.88rem; display:block; overflow-x:auto; }
th, td { border:1px solid var(--line); padding:3px 8px; text-align:left; vertical-align:top; }
th { background:#eaeef2; } td.num { text-align:right; font-variant-numeric:tabular-nums; }
figure { margin:10px 0; } figure img { max-width:100%; height:auto; border:1px solid var(--line); background:#fff; }
figcaption { font-size:.85rem; color:var(--muted); }
.answer { border-left:4px solid var(--accent); padding:4px 10px; margin:10px 0; background:#fff; }
.answer[data-verdict=confirmed] { border-color:var(--ok); } .answer[data-verdict=refuted] { border-color:var(--bad); }
.answer[data-verdict=nuanced] { border-color:var(--mid); }
button.reveal { display:none; font:inherit; padding:4px 12px; margin:8px 0; cursor:pointer; }
body.study .answer:not(.revealed) { display:none; }
body.study .answer:not(.revealed) + button.reveal, body.study button.reveal.pending-reveal { display:inline-block; }
body.study nav.index .badge, body.study section.question h2 .badge { visibility:hidden; }
body.study section.question.revealed h2 .badge { visibility:visible; }
.studyhelp, .studyonly { display:none; color:var(--muted); font-size:.88rem; }
body.study .studyhelp { display:block; } body.study .studyonly { display:inline-block; }
#next-unrevealed { font:inherit; font-size:.85rem; padding:2px 10px; color:var(--fg); cursor:pointer; }
body.study #errata, body.study .beyond, body.study .takeaway:not(.revealed) { display:none; }
body.study section.question:not(.revealed) .badge:not(.page) { visibility:hidden; }
body.study .summary .badge { visibility:hidden; }
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
  /* one scrollable row, so the sticky bar stays one line tall and never covers a heading */
  .controls { flex-wrap:nowrap; overflow-x:auto; gap:8px; padding:5px 8px; scrollbar-width:thin; }
  .controls label { white-space:nowrap; font-size:.8rem; }
  .controls select { max-width:7.5em; } .controls input[type=search] { width:6.5em; }
  #next-unrevealed { white-space:nowrap; }
  details.legend dl { grid-template-columns:1fr; } }
@media print { .controls, button.reveal, .studyhelp, #zoom { display:none !important; }
  body.study .answer { display:block !important; } section.question { break-inside:avoid-page; }
  header.top { background:#fff; color:#000; } header.top p { color:#333; } }
"""

JS = r"""
(function () {
  "use strict";
  var KEY = "cvprimer-lab-studied";
  var body = document.body;
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.question"));
  var controls = document.querySelector(".controls");
  var studied = {};
  try { studied = JSON.parse(localStorage.getItem(KEY) || "{}") || {}; } catch (e) { studied = {}; }
  function save() { try { localStorage.setItem(KEY, JSON.stringify(studied)); } catch (e) { /* private mode */ } }
  // the sticky bar's height, so an index jump lands below it (scroll-margin-top uses --ctl-h)
  function controlsHeight() {
    document.documentElement.style.setProperty("--ctl-h", controls.offsetHeight + "px");
  }
  window.addEventListener("resize", controlsHeight);
  controlsHeight();
  function markIndex() {
    sections.forEach(function (s) {
      var li = document.querySelector('nav.index li[data-q="' + s.dataset.q + '"]');
      if (li) { li.classList.toggle("studied", !!studied[s.dataset.q]); }
    });
  }
  function reveal(section) {
    section.querySelectorAll(".answer, .takeaway").forEach(function (a) { a.classList.add("revealed"); });
    section.querySelectorAll("button.reveal").forEach(function (b) { b.classList.add("hidden"); });
    section.classList.add("revealed");
    studied[section.dataset.q] = 1; save(); markIndex();
  }
  function setStudy(on) {
    body.classList.toggle("study", on);
    sections.forEach(function (s) {
      s.classList.remove("revealed");
      s.querySelectorAll(".answer, .takeaway").forEach(function (a) { a.classList.remove("revealed"); });
      s.querySelectorAll("button.reveal").forEach(function (b) { b.classList.remove("hidden"); });
    });
  }
  document.querySelectorAll("button.reveal").forEach(function (b) {
    b.addEventListener("click", function () { reveal(b.closest("section.question")); });
  });
  var study = document.getElementById("study");
  study.addEventListener("change", function () {
    setStudy(study.checked);
    study.blur();  // a later Space must reveal an answer, not untick study mode
  });
  var fv = document.getElementById("f-verdict"), ft = document.getElementById("f-topic");
  var fq = document.getElementById("f-search"), none = document.getElementById("no-match");
  var CJK = /[\u3000-\u9fff\uf900-\ufaff\uff00-\uffef]/;
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
      var text = s.textContent.toLowerCase();
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
  markIndex();
  applyFilter();
})();
"""
