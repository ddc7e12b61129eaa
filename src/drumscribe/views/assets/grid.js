// grid: lanes (one per drum, data-lane="<instrument>"), bar and beat lines, the hits
// (data-lane, data-time="<seconds>"), zoom, and where a pointer is in time and lane.
const scroller = $("scroller"), canvas = $("canvas"), lanesEl = $("lanes"), ruler = $("ruler"), labels = $("labels");
const MIN_PPS = 8, MAX_PPS = 2400;
const laneEls = data.lanes.map((lane) => {
  const label = el("div", lane.hits ? "" : "empty", labels);
  el("span", "swatch", label).style.background = lane.colour;
  el("span", "", label).textContent = lane.label;
  label.title = lane.label;
  label.dataset.lane = lane.name;
  const node = el("div", lane.hits ? "lane" : "lane empty", lanesEl);
  node.dataset.lane = lane.name;
  return node;
});
const gridLines = el("div", "");
lanesEl.insertBefore(gridLines, lanesEl.firstChild);  // under the hits
gridLines.style.position = "absolute";
gridLines.style.inset = "0";
gridLines.style.pointerEvents = "none";
for (const bar of data.bars) {
  bar.beats.forEach((t, i) => {
    if (t < 0 || t > duration) return;
    at(el("div", i === 0 ? "barline" : "beat", gridLines), t);
  });
  if (bar.beats[0] >= -0.05 && bar.beats[0] <= duration) {
    at(el("div", "barline", ruler), Math.max(0, bar.beats[0]));
    const number = at(el("span", "barno", ruler), Math.max(0, bar.beats[0]));
    number.textContent = String(bar.n);
  }
}

const hitEls = new Map();  // hit id -> element
const hitLabel = (h) => data.lanes[h.lane].label + " at " + fmt(h.t) + ", velocity " + h.v +
  (h.c < 1 ? ", confidence " + h.c : "");
const drawHit = (h) => {
  let node = hitEls.get(h.id);
  if (!node) {
    node = el("div", "hit");
    node.dataset.index = String(h.id);
    node.tabIndex = -1;  // focusable from the keyboard (the selection moves focus), not a tab stop each
    node.setAttribute("role", "button");
    hitEls.set(h.id, node);
  }
  const lane = data.lanes[h.lane];
  if (node.parentNode !== laneEls[h.lane]) laneEls[h.lane].appendChild(node);
  at(node, h.t);
  const size = 7 + 15 * (h.v / 127);
  node.style.width = node.style.height = size.toFixed(1) + "px";
  node.style.opacity = (0.35 + 0.65 * h.v / 127).toFixed(2);
  node.style.background = lane.colour;
  node.dataset.lane = lane.name;
  node.dataset.time = String(Math.round(h.t * 1e6) / 1e6);
  node.title = hitLabel(h);
  node.setAttribute("aria-label", node.title);
  return node;
};
const drawHits = () => {
  const alive = new Set();
  for (const h of hits) { drawHit(h); alive.add(h.id); }
  for (const [id, node] of hitEls) if (!alive.has(id)) { node.remove(); hitEls.delete(id); }
};  // lanes keep the height they loaded with (an empty one is lower): nothing moves under the pointer
drawHits();

let pps = 100;
const setZoom = (value, anchorTime) => {
  const keep = anchorTime === undefined ? (scroller.scrollLeft + scroller.clientWidth / 2) / pps : anchorTime;
  const offset = keep * pps - scroller.scrollLeft;
  pps = Math.min(MAX_PPS, Math.max(MIN_PPS, value));
  canvas.style.setProperty("--pps", String(pps));
  canvas.style.width = Math.ceil(duration * pps + 40) + "px";
  scroller.scrollLeft = Math.max(0, keep * pps - offset);
};
setZoom(Math.min(400, Math.max(60, (scroller.clientWidth - 40) / Math.max(duration, 1))), 0);
$("zoom-in").addEventListener("click", () => setZoom(pps * 1.5));
$("zoom-out").addEventListener("click", () => setZoom(pps / 1.5));
scroller.addEventListener("wheel", (e) => {
  if (!e.ctrlKey) return;  // ctrl + wheel (a pinch on a touchpad) zooms around the pointer
  e.preventDefault();
  const rect = scroller.getBoundingClientRect();
  setZoom(pps * Math.exp(-e.deltaY / 300), (scroller.scrollLeft + e.clientX - rect.left) / pps);
}, { passive: false });
const timeAt = (event) => (event.clientX - canvas.getBoundingClientRect().left) / pps;
const laneAt = (event) => {  // the lane under the pointer (clamped to the first and last)
  for (let i = 0; i < laneEls.length; i++) {
    const box = laneEls[i].getBoundingClientRect();
    if (event.clientY < box.bottom || i === laneEls.length - 1) return i;
  }
  return 0;
};
const reveal = (t) => {  // scroll so that time t is in view
  const x = t * pps;
  if (x < scroller.scrollLeft + 20 || x > scroller.scrollLeft + scroller.clientWidth - 40) scroller.scrollLeft = x - scroller.clientWidth * 0.3;
};
