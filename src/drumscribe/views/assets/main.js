// main: the keys that are not editing keys (play, zoom, jump), and the page's first state.
document.addEventListener("keydown", (e) => {
  const tag = e.target.tagName;
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
  if (tag === "BUTTON" && (e.key === "Enter" || e.key === " ")) return;  // the button's own click
  if (editKey(e)) { e.preventDefault(); return; }
  if (tag === "BUTTON" || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === " ") { e.preventDefault(); playBtn.click(); }
  else if (e.key === "+" || e.key === "=") setZoom(pps * 1.5);
  else if (e.key === "-") setZoom(pps / 1.5);
  else if (e.key === "Home") seek(0);
});
document.body.dataset.state = "ready";
document.body.dataset.dirty = "false";
undoBtn.disabled = redoBtn.disabled = true;
draw();
say(hits.length + " hits. Click a hit to hear it, the ruler to jump; ctrl + wheel or +/- to zoom; the line below lists the editing keys.");
