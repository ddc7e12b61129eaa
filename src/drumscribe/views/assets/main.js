// main: what a click and a key do, and the page's first state.
lanesEl.addEventListener("click", (e) => {
  const index = e.target.dataset ? e.target.dataset.index : undefined;
  if (index === undefined) { seek(timeAt(e)); return; }
  const hit = hits.find((h) => h.id === Number(index));
  audition(hit);  // click a hit to hear it
  hitEls.forEach((node) => node.classList.remove("lit"));
  e.target.classList.add("lit");
  say(e.target.title);
});
document.addEventListener("keydown", (e) => {
  const tag = e.target.tagName;
  if (tag === "INPUT" || tag === "BUTTON" || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === " ") { e.preventDefault(); playBtn.click(); }
  else if (e.key === "+" || e.key === "=") setZoom(pps * 1.5);
  else if (e.key === "-") setZoom(pps / 1.5);
  else if (e.key === "Home") seek(0);
});
document.body.dataset.state = "ready";
draw();
say(hits.length + " hits. Click a hit to hear it, the ruler to jump; ctrl + wheel or +/- to zoom.");
