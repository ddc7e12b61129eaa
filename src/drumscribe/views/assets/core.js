// core: the page's data and the small helpers every other part uses. The page's script is these
// files joined in order (html.py: SCRIPT_PARTS) inside one function, so they share its scope:
// core, grid, playback, edit, save, main. No framework, no network; strings from the job are only
// ever set with textContent.
const data = JSON.parse(document.getElementById("drumscribe-data").textContent);
const $ = (id) => document.getElementById(id);
const duration = data.duration;
const statusEl = $("status");

const fmt = (s) => {
  s = Math.max(0, s);
  const m = Math.floor(s / 60), rest = s - 60 * m;
  return m + ":" + (rest < 10 ? "0" : "") + rest.toFixed(2);
};
const say = (text) => { statusEl.textContent = text; };
const el = (tag, cls, parent) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (parent) parent.appendChild(node);
  return node;
};
// every positioned element carries its time in --t; CSS multiplies by --pps (zoom = one property)
const at = (node, t) => { node.style.setProperty("--t", String(t)); node.style.left = "calc(var(--t) * var(--pps) * 1px)"; return node; };

// the hits, sorted by time: {id, t (s), lane (index into data.lanes), v (velocity 1-127), c (confidence)}.
// ids are the hits' places in the page's data (data-index), so the first ones keep theirs.
let nextHitId = data.hits.length;
const hits = data.hits.map((h, i) => ({ id: i, t: h[0], lane: h[1], v: h[2], c: h[3] }));
const sortHits = () => hits.sort((a, b) => a.t - b.t || a.lane - b.lane || a.id - b.id);
const newHitId = () => nextHitId++;
