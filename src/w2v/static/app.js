// The w2v explorer page: talks to the JSON API of `w2v serve` on the same origin.
// Every word (the user's or the vocabulary's, which may hold '<script>') is written with textContent or
// setAttribute, never parsed as HTML; nothing is loaded from anywhere but this server.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const state = { word: null, limits: { topn: 100, word_chars: 500 } };

// -- small helpers -----------------------------------------------------------------------------------
function $(id) { return document.getElementById(id); }

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function api(path, params) {
  const query = new URLSearchParams(params || {}).toString();
  const response = await fetch(query ? `${path}?${query}` : path, { headers: { Accept: "application/json" } });
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

function wordButton(word, cls) {
  const b = el("button", cls || "word", word);
  b.type = "button";
  b.title = `explore ${word}`;
  b.addEventListener("click", () => explore(word));
  return b;
}

function fmt(x) { return Number(x).toFixed(3); }

// One row of a bar list: the word (a button that explores it), a bar, the value.
function barRow(word, value, fraction, extra) {
  const li = el("li", "bar-row");
  li.appendChild(wordButton(word));
  const bar = el("span", "bar");
  const fill = el("span", "fill");
  fill.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  bar.appendChild(fill);
  li.appendChild(bar);
  li.appendChild(el("span", "value", fmt(value)));
  if (extra) li.appendChild(el("span", "count muted", extra));
  return li;
}

function countText(count) { return count === null || count === undefined ? "" : `×${count.toLocaleString()}`; }

// A failed query: an unknown word with its suggested spellings (each one a button), or the API's message.
function showError(box, err) {
  clear(box);
  box.hidden = false;
  if (err instanceof ApiError && err.body.error === "unknown_word") {
    box.appendChild(el("span", null, `“${err.body.word}” is not in the vocabulary.`));
    const suggestions = err.body.suggestions || [];
    if (suggestions.length) {
      box.appendChild(el("span", null, " Did you mean "));
      suggestions.forEach((w, i) => {
        if (i) box.appendChild(document.createTextNode(", "));
        box.appendChild(wordButton(w, "word suggestion"));
      });
      box.appendChild(document.createTextNode("?"));
    }
  } else {
    box.appendChild(el("span", null, err.message || String(err)));
  }
}

function hideMessage(box) { clear(box); box.hidden = true; }

// The whitespace Python's str.split splits words on, which the model's words never hold at their ends.
// (JavaScript's trim() also strips U+FEFF, which a word can hold: a byte-order mark left in a text.)
const SPACE = "[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const EDGE_SPACE = new RegExp(`^${SPACE}+|${SPACE}+$`, "g");
function trimWord(text) { return String(text).replace(EDGE_SPACE, ""); }

// -- exploring a word: neighbours and map ------------------------------------------------------------
function explore(word) {
  word = trimWord(word);
  if (!word) return;
  const hash = "#" + new URLSearchParams({ w: word }).toString();
  if (location.hash === hash) show(word);
  else location.hash = hash;  // the hashchange handler shows it; back and forward work
}

function wordFromHash() {
  const w = new URLSearchParams(location.hash.slice(1)).get("w");
  return w && trimWord(w) ? w : null;
}

let showing = 0;  // answers to an older query are dropped
async function show(word) {
  const ticket = ++showing;
  state.word = word;
  $("q").value = word;
  closeCompletions();
  $("nb-word").textContent = word;
  $("map-word").textContent = word;
  const list = $("neighbours"), box = $("nb-message");
  document.body.classList.add("busy");
  try {
    // one after the other: the server keeps a word's search, so the map then costs no second pass
    const nb = await api("/api/neighbours", { word, topn: 15 });
    const map = await api("/api/map", { word, n: 25 });
    if (ticket !== showing) return;
    hideMessage(box);
    clear(list);
    const header = nb.count === null ? "" : ` (${countText(nb.count)} in the corpus)`;
    $("nb-word").textContent = word + header;
    nb.neighbours.forEach((n) => list.appendChild(barRow(n.word, n.cosine, n.cosine, countText(n.count))));
    drawMap(map);
    document.title = `${word} · w2v explorer`;
  } catch (err) {
    if (ticket !== showing) return;
    clear(list);
    clearMap();
    showError(box, err);
  } finally {
    if (ticket === showing) document.body.classList.remove("busy");
  }
}

// -- the 2-D map -------------------------------------------------------------------------------------
function clearMap() { clear($("map")); }

function drawMap(map) {
  const svg = $("map");
  clear(svg);
  const W = 600, H = 460, pad = 60;
  const xs = map.points.map((p) => p.x), ys = map.points.map((p) => p.y);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = (x) => pad + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * (W - 2 * pad);
  const sy = (y) => H - pad + 20 - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * (H - 2 * pad);
  const placed = [];  // label boxes drawn so far: each new label takes the first free spot around its point
  map.points.forEach((p, i) => {
    const g = document.createElementNS(SVG_NS, "g");
    g.setAttribute("class", i === 0 ? "point query" : "point");
    g.setAttribute("tabindex", "0");
    g.setAttribute("role", "button");
    const c = document.createElementNS(SVG_NS, "circle");
    c.setAttribute("cx", sx(p.x).toFixed(1));
    c.setAttribute("cy", sy(p.y).toFixed(1));
    c.setAttribute("r", i === 0 ? "6" : String(2.5 + 3 * Math.max(0, p.cosine)));
    const t = document.createElementNS(SVG_NS, "text");
    t.setAttribute("x", (sx(p.x) + 8).toFixed(1));
    t.setAttribute("y", (sy(p.y) + 4).toFixed(1));
    t.textContent = p.word;
    const tip = document.createElementNS(SVG_NS, "title");
    tip.textContent = `${p.word}: cosine ${fmt(p.cosine)}`;
    g.append(tip, c, t);
    g.addEventListener("click", () => explore(p.word));
    g.addEventListener("keydown", (e) => { if (e.key === "Enter") explore(p.word); });
    svg.appendChild(g);
    placeLabel(t, sx(p.x), sy(p.y), placed);
  });
  const [e1, e2] = map.explained;
  $("map-note").textContent = `principal components of the unit vectors (${(100 * e1).toFixed(0)}% and ` +
    `${(100 * e2).toFixed(0)}% of the variance); click a word to explore it`;
}

// Move label ``t`` of the point (x, y) to the first of a few spots around it (right, left, above, below,
// then further out) that overlaps no label placed before; the last one tried if none is free.
function placeLabel(t, x, y, placed) {
  const box = t.getBBox();
  const w = box.width, h = box.height;
  const spots = [[8, 4], [-8 - w, 4], [-w / 2, -8], [-w / 2, 8 + h * 0.8], [8, -8], [8, 14], [-8 - w, -8],
                 [-8 - w, 14], [14, -16], [14, 22], [-14 - w, -16], [-14 - w, 22]];
  const overlaps = (a) => placed.some((b) => a.x < b.x + b.w && b.x < a.x + a.w &&
                                             a.y < b.y + b.h && b.y < a.y + a.h);
  let chosen = null;
  for (const [dx, dy] of spots) {
    chosen = { x: x + dx, y: y + dy - h * 0.8, w, h };
    if (!overlaps(chosen)) break;
  }
  t.setAttribute("x", chosen.x.toFixed(1));
  t.setAttribute("y", (chosen.y + h * 0.8).toFixed(1));
  placed.push(chosen);
}

// -- completion --------------------------------------------------------------------------------------
let completing = 0, active = -1, timer = null;

function closeCompletions() {
  completing++;
  active = -1;
  const ul = $("completions");
  clear(ul);
  ul.hidden = true;
}

async function complete(prefix) {
  const ticket = ++completing;
  let found;
  try { found = await api("/api/complete", { prefix, limit: 8 }); } catch (err) { return; }
  if (ticket !== completing) return;
  const ul = $("completions");
  clear(ul);
  active = -1;
  found.words.forEach((w) => {
    const li = el("li", "completion", w);
    li.setAttribute("role", "option");
    li.addEventListener("mousedown", (e) => { e.preventDefault(); explore(w); });
    ul.appendChild(li);
  });
  ul.hidden = found.words.length === 0;
}

function moveActive(step) {
  const items = $("completions").children;
  if (!items.length) return;
  if (active >= 0) items[active].classList.remove("active");
  active = (active + step + items.length) % items.length;
  items[active].classList.add("active");
  $("q").value = items[active].textContent;
}

// -- analogy and similarity --------------------------------------------------------------------------
async function answerAnalogy(event) {
  event.preventDefault();
  const [a, b, c] = ["an-a", "an-b", "an-c"].map((id) => trimWord($(id).value));
  const list = $("analogy-results"), box = $("an-message");
  clear(list);
  if (!a || !b || !c) { showError(box, new Error("give the three words")); return; }
  try {
    const res = await api("/api/analogy", { a, b, c, method: $("an-method").value, topn: 10 });
    hideMessage(box);
    const top = Math.max(...res.answers.map((x) => x.score), 1e-9);
    res.answers.forEach((x) => list.appendChild(barRow(x.word, x.score, x.score / top, countText(x.count))));
  } catch (err) {
    showError(box, err);
  }
}

async function compare(event) {
  event.preventDefault();
  const a = trimWord($("sim-a").value), b = trimWord($("sim-b").value);
  const list = $("similarity-result"), box = $("sim-message");
  clear(list);
  if (!a || !b) { showError(box, new Error("give two words")); return; }
  try {
    const res = await api("/api/similarity", { a, b });
    hideMessage(box);
    const li = barRow(a, res.cosine, res.cosine);
    li.insertBefore(wordButton(b), li.children[1]);
    list.appendChild(li);
  } catch (err) {
    showError(box, err);
  }
}

// -- start -------------------------------------------------------------------------------------------
async function start() {
  const q = $("q");
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const items = $("completions").children;
    explore(active >= 0 && items[active] ? items[active].textContent : q.value);
  });
  q.addEventListener("input", () => {
    clearTimeout(timer);
    const prefix = q.value;
    if (!prefix) { closeCompletions(); return; }
    timer = setTimeout(() => complete(prefix), 120);
  });
  q.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") { e.preventDefault(); moveActive(1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); moveActive(-1); }
    else if (e.key === "Escape") closeCompletions();
  });
  q.addEventListener("blur", () => setTimeout(closeCompletions, 150));
  $("analogy-form").addEventListener("submit", answerAnalogy);
  $("similarity-form").addEventListener("submit", compare);
  window.addEventListener("hashchange", () => { const w = wordFromHash(); if (w) show(w); });

  try {
    const info = await api("/api/info");
    state.limits = info.limits;
    const counts = info.counts ? "" : " (no counts)";
    $("model-info").textContent = `${info.model}: ${info.words.toLocaleString()} words, ${info.dims} ` +
      `dimensions${counts}`;
    const ex = $("examples");
    clear(ex);
    if (info.examples.length) {
      ex.appendChild(document.createTextNode("Try "));
      info.examples.forEach((w) => ex.appendChild(wordButton(w, "word example")));
    }
    const first = wordFromHash() || info.examples[0];
    if (first) show(first);
  } catch (err) {
    $("model-info").textContent = `cannot reach the server: ${err.message}`;
  }
}

document.addEventListener("DOMContentLoaded", start);
