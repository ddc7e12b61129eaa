// edit: select, add, remove, move, relabel and re-velocity hits, with undo and redo.
// Mouse: double-click a lane adds (snapped to the 16ths of the detected beats; Alt: exact), click
// selects (Shift adds), a box drawn on empty lanes selects several, dragging hits moves them in
// time and across lanes. Keys: see HELP (shown in the page).
const INSTRUMENT_KEYS = { kick: "k", snare: "s", side_stick: "x", hihat_closed: "h", hihat_open: "o", hihat_pedal: "p",
  tom_high: "t", tom_mid: "m", tom_low: "f", crash: "c", ride: "r" };
const NUDGE = 0.01, FINE_NUDGE = 0.001, VELOCITY_STEP = 8, DRAG_PX = 3;
const laneOfKey = {};
data.lanes.forEach((lane, i) => {
  const key = INSTRUMENT_KEYS[lane.name];
  if (!key) return;
  laneOfKey[key] = i;
  const badge = el("kbd", "key", labels.children[i]);
  badge.textContent = key.toUpperCase();
  badge.title = "Press " + key.toUpperCase() + " to move the selected hits here";
});
const velocityInput = $("velocity"), undoBtn = $("undo"), redoBtn = $("redo"), editState = $("edit-state");

// the 16ths of the detected beat grid, for snapping
const sixteenths = (() => {
  const beats = Array.from(new Set(data.bars.flatMap((b) => b.beats))).sort((a, b) => a - b);
  const out = [];
  for (let i = 0; i + 1 < beats.length; i++) for (let k = 0; k < 4; k++) out.push(beats[i] + (beats[i + 1] - beats[i]) * k / 4);
  if (beats.length) out.push(beats[beats.length - 1]);
  return out;
})();
const snap = (t) => {
  if (!sixteenths.length) return t;
  let lo = 0, hi = sixteenths.length - 1;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (sixteenths[mid] < t) lo = mid + 1; else hi = mid; }
  const near = lo > 0 && Math.abs(sixteenths[lo - 1] - t) < Math.abs(sixteenths[lo] - t) ? sixteenths[lo - 1] : sixteenths[lo];
  return near;
};
const clampTime = (t) => Math.min(Math.max(0, Math.round(t * 1e6) / 1e6), duration);

// ---- selection ------------------------------------------------------------------------------
const selected = new Set();
let currentLane = data.lanes.findIndex((l) => l.name === "kick");
if (currentLane < 0) currentLane = 0;
const selectedHits = () => hits.filter((h) => selected.has(h.id));
const showSelection = (focus) => {
  for (const [id, node] of hitEls) {
    const on = selected.has(id);
    node.classList.toggle("lit", on);
    node.setAttribute("aria-pressed", on ? "true" : "false");
  }
  const chosen = selectedHits();
  const velocities = new Set(chosen.map((h) => h.v));
  velocityInput.disabled = chosen.length === 0;
  velocityInput.value = velocities.size === 1 ? String(chosen[0].v) : "";
  velocityInput.placeholder = velocities.size > 1 ? "mixed" : "";
  if (focus && chosen.length) {
    const node = hitEls.get(focus === true ? chosen[chosen.length - 1].id : focus);
    if (node) { node.focus({ preventScroll: true }); reveal(Number(node.dataset.time)); }
  }
  if (chosen.length === 1) say(hitLabel(chosen[0]));
  else if (chosen.length > 1) say(chosen.length + " hits selected");
};
const select = (ids, { add = false, focus = false } = {}) => {
  if (!add) selected.clear();
  for (const id of ids) selected.add(id);
  const last = hits.find((h) => h.id === ids[ids.length - 1]);
  if (last) currentLane = last.lane;
  showSelection(focus);
};
const toggle = (id) => {
  if (selected.has(id)) selected.delete(id); else selected.add(id);
  showSelection(false);
};
const clearSelection = () => { selected.clear(); showSelection(false); };

// ---- changes, undo, redo --------------------------------------------------------------------
const undoStack = [], redoStack = [];
const state = () => ({ hits: hits.map((h) => Object.assign({}, h)), selected: Array.from(selected) });
const serialise = () => JSON.stringify(hits.map((h) => [h.t, h.lane, h.v]));
let savedAs = serialise();  // what the last save (or the page's load) stored
let savedLabel = "Saved";  // a page from disk only downloads (save.js)
const isDirty = () => serialise() !== savedAs;
const markSaved = () => { savedAs = serialise(); changed(); };
const changed = (message) => {
  sortHits();
  drawHits();
  showSelection(false);
  hitsChanged();
  const dirty = isDirty();
  document.body.dataset.dirty = dirty ? "true" : "false";
  editState.textContent = dirty ? "Unsaved changes" : (savedAs === initialState ? "No changes" : savedLabel);
  editState.classList.toggle("dirty", dirty);
  document.title = (dirty ? "\u2022 " : "") + baseTitle;
  undoBtn.disabled = undoStack.length === 0;
  redoBtn.disabled = redoStack.length === 0;
  if (message) say(message);
  onDirty(dirty);
};
const baseTitle = document.title;
const initialState = savedAs;
const change = (message, apply) => {
  const before = state();
  const result = apply();
  if (result === false) return;
  undoStack.push(before);
  if (undoStack.length > 500) undoStack.shift();
  redoStack.length = 0;
  changed(message);
};
const restore = (snapshot) => {
  hits.length = 0;
  for (const h of snapshot.hits) hits.push(Object.assign({}, h));
  selected.clear();
  for (const id of snapshot.selected) selected.add(id);
};
const undo = () => {
  if (!undoStack.length) { say("Nothing to undo."); return; }
  redoStack.push(state());
  restore(undoStack.pop());
  changed("Undone.");
};
const redo = () => {
  if (!redoStack.length) { say("Nothing to redo."); return; }
  undoStack.push(state());
  restore(redoStack.pop());
  changed("Redone.");
};

// ---- what an edit does ----------------------------------------------------------------------
const laneVelocity = (lane) => {
  const vs = hits.filter((h) => h.lane === lane).map((h) => h.v).sort((a, b) => a - b);
  return vs.length ? vs[vs.length >> 1] : 100;
};
const addHit = (t, lane) => {
  t = clampTime(t);
  const twin = hits.find((h) => h.lane === lane && Math.abs(h.t - t) < 0.0005);
  if (twin) { select([twin.id], { focus: true }); return; }  // one hit per drum and moment
  const hit = { id: newHitId(), t, lane, v: laneVelocity(lane), c: 1 };
  change(data.lanes[lane].label + " added at " + fmt(t) + ".", () => { hits.push(hit); selected.clear(); selected.add(hit.id); });
  currentLane = lane;
  showSelection(true);
  audition(hit);
};
const removeSelected = () => {
  const n = selected.size;
  if (!n) { say("Select hits first (click one, or drag a box)."); return; }
  change(n + (n === 1 ? " hit" : " hits") + " removed.", () => {
    for (let i = hits.length - 1; i >= 0; i--) if (selected.has(hits[i].id)) hits.splice(i, 1);
    selected.clear();
  });
};
const nudge = (dt) => {
  if (!selected.size) return;
  change("Moved " + (dt > 0 ? "later" : "earlier") + " by " + Math.round(Math.abs(dt) * 1000) + " ms.", () => {
    for (const h of selectedHits()) h.t = clampTime(h.t + dt);
  });
  showSelection(true);
};
const moveToLane = (lane) => {
  if (!selected.size) { say("Select hits first, then press the key of the drum they are."); return; }
  const moving = selectedHits().filter((h) => h.lane !== lane);
  if (!moving.length) return;
  change(moving.length + (moving.length === 1 ? " hit" : " hits") + " now " + data.lanes[lane].label + ".", () => {
    for (const h of moving) h.lane = lane;
  });
  currentLane = lane;
  showSelection(true);
  audition(moving[0]);
};
const setVelocity = (value, relative) => {
  if (!selected.size) return;
  change("Velocity " + (relative ? (value > 0 ? "+" : "") + value : value) + ".", () => {
    for (const h of selectedHits()) h.v = Math.min(127, Math.max(1, Math.round(relative ? h.v + value : value)));
  });
  const first = selectedHits()[0];
  if (first) audition(first);
};
const step = (direction, extend) => {  // select the next (1) or previous (-1) hit in time
  const chosen = selectedHits();
  let i;
  if (!chosen.length) i = direction > 0 ? firstHitFrom(now()) : firstHitFrom(now()) - 1;
  else {
    const anchorHit = direction > 0 ? chosen[chosen.length - 1] : chosen[0];
    i = hits.indexOf(anchorHit) + direction;
  }
  if (i < 0 || i >= hits.length) return;
  select([hits[i].id], { add: extend, focus: true });
  audition(hits[i]);
};

// ---- mouse ----------------------------------------------------------------------------------
let gesture = null, swallowClick = false;
const hitOf = (target) => (target && target.classList && target.classList.contains("hit") ? hits.find((h) => h.id === Number(target.dataset.index)) : null);
const boxEl = el("div", "box", canvas);
boxEl.hidden = true;
lanesEl.addEventListener("mousedown", (e) => {
  if (e.button !== 0) return;
  const hit = hitOf(e.target);
  gesture = { x: e.clientX, y: e.clientY, t: timeAt(e), lane: laneAt(e), hit, moved: false };
  if (hit) {
    e.preventDefault();  // no text selection while dragging
    if (!e.shiftKey && !selected.has(hit.id)) select([hit.id]);
    gesture.from = new Map(selectedHits().concat(selected.has(hit.id) ? [] : [hit]).map((h) => [h.id, { t: h.t, lane: h.lane }]));
  }
});
window.addEventListener("mousemove", (e) => {
  if (!gesture) return;
  const dx = e.clientX - gesture.x, dy = e.clientY - gesture.y;
  if (!gesture.moved && Math.abs(dx) < DRAG_PX && Math.abs(dy) < DRAG_PX) return;
  if (!gesture.moved) {
    gesture.moved = true;
    if (gesture.hit) gesture.before = state();
  }
  if (gesture.hit) {  // drag: move the hits in time (exactly by the pointer) and across lanes
    const dt = Math.abs(dx) >= DRAG_PX ? dx / pps : 0;
    let dLane = laneAt(e) - gesture.lane;
    for (const from of gesture.from.values()) dLane = Math.min(Math.max(dLane, -from.lane), data.lanes.length - 1 - from.lane);
    for (const h of hits) {
      const from = gesture.from.get(h.id);
      if (from) { h.t = clampTime(from.t + dt); h.lane = from.lane + dLane; drawHit(h); }
    }
  } else {  // a box: select what is inside
    const t0 = Math.min(gesture.t, timeAt(e)), t1 = Math.max(gesture.t, timeAt(e));
    const l0 = Math.min(gesture.lane, laneAt(e)), l1 = Math.max(gesture.lane, laneAt(e));
    const top = laneEls[l0].offsetTop, bottom = laneEls[l1].offsetTop + laneEls[l1].offsetHeight;
    at(boxEl, t0);
    boxEl.style.width = ((t1 - t0) * pps) + "px";
    boxEl.style.top = (lanesEl.offsetTop + top) + "px";
    boxEl.style.height = (bottom - top) + "px";
    boxEl.hidden = false;
    gesture.box = { t0, t1, l0, l1 };
  }
});
window.addEventListener("mouseup", (e) => {
  const g = gesture;
  gesture = null;
  if (!g || !g.moved) return;
  swallowClick = true;
  setTimeout(() => { swallowClick = false; }, 0);
  if (g.hit) {
    const moved = hits.filter((h) => g.from.has(h.id));
    const still = moved.every((h) => h.t === g.from.get(h.id).t && h.lane === g.from.get(h.id).lane);
    if (still) return;
    undoStack.push(g.before);
    redoStack.length = 0;
    for (const h of moved) selected.add(h.id);
    currentLane = moved[0].lane;
    changed(moved.length + (moved.length === 1 ? " hit" : " hits") + " moved.");
    audition(moved[0]);
  } else if (g.box) {
    boxEl.hidden = true;
    const inside = hits.filter((h) => h.t >= g.box.t0 && h.t <= g.box.t1 && h.lane >= g.box.l0 && h.lane <= g.box.l1);
    select(inside.map((h) => h.id), { add: e.shiftKey });
    if (!inside.length) say("No hits in that box.");
  }
});
lanesEl.addEventListener("click", (e) => {
  if (swallowClick) return;
  const hit = hitOf(e.target);
  if (!hit) {  // an empty spot: the playhead goes there, the selection goes away
    if (!e.shiftKey) clearSelection();
    currentLane = laneAt(e);
    seek(timeAt(e));
    return;
  }
  if (e.shiftKey) toggle(hit.id); else select([hit.id]);
  currentLane = hit.lane;
  audition(hit);  // click a hit to hear it
  if (selected.has(hit.id)) say(hitLabel(hit));
});
lanesEl.addEventListener("dblclick", (e) => {
  if (hitOf(e.target)) return;
  e.preventDefault();
  const t = timeAt(e);
  addHit(e.altKey ? t : snap(t), laneAt(e));
});

// ---- keys -----------------------------------------------------------------------------------
const editKey = (e) => {  // true when the key was an editing key (and has been handled)
  const mod = e.ctrlKey || e.metaKey;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (mod && key === "z") { e.shiftKey ? redo() : undo(); return true; }
  if (mod && key === "y") { redo(); return true; }
  if (mod && key === "s") { save(); return true; }
  if (mod && key === "a") { select(hits.map((h) => h.id)); return true; }
  if (mod || e.altKey && key !== "n") return false;
  if (key === "Delete" || key === "Backspace") { removeSelected(); return true; }
  if (key === "ArrowLeft" || key === "ArrowRight") {
    if (!selected.size) return false;
    nudge((key === "ArrowLeft" ? -1 : 1) * (e.shiftKey ? FINE_NUDGE : NUDGE));
    return true;
  }
  if (key === "ArrowUp" || key === "ArrowDown") {
    if (!selected.size) return false;
    setVelocity((key === "ArrowUp" ? 1 : -1) * (e.shiftKey ? 1 : VELOCITY_STEP), true);
    return true;
  }
  if (key === "]" || key === "[") { step(key === "]" ? 1 : -1, e.shiftKey); return true; }
  if (key === "Escape") { clearSelection(); say("Nothing selected."); return true; }
  if (key === "Enter" && selected.size) { audition(selectedHits()[0]); return true; }
  if (key === "n") { const t = now(); addHit(e.altKey ? t : snap(t), currentLane); return true; }
  if (key in laneOfKey) { moveToLane(laneOfKey[key]); return true; }
  return false;
};
undoBtn.addEventListener("click", undo);
redoBtn.addEventListener("click", redo);
velocityInput.addEventListener("change", () => {
  const value = Number(velocityInput.value);
  if (velocityInput.value !== "" && value >= 1 && value <= 127) setVelocity(value, false);
  else showSelection(false);
});
