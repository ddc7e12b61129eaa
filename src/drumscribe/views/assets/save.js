// save: where a save goes. data.edit.mode says:
//   "server"   `drumscribe edit`'s loopback server: PUT to it (If-Match: the revision it started from);
//   "parent"   serve's result page, sandboxed in a frame that cannot call the API itself: the app
//              around it saves (PUT /api/jobs/{id}/edited) and answers with a message;
//   "download" a page on disk (`drumscribe view`): Save downloads edited.json, and
//              `drumscribe edit JOB --import edited.json` stores it.
// A stale save (the job was saved elsewhere since) is refused and nothing here is lost: the
// changes stay in the page, and Download keeps them in a file.
const edit = data.edit || {};
const inFrame = window.parent !== window;
const mode = edit.mode === "parent" && !inFrame ? "download" : (edit.mode || "download");
let revision = edit.revision || null;  // the revision the next save names as its parent
let saving = false;
const saveBtn = $("save"), revisionNote = $("revision-note");

const documentToSave = () => Object.assign({}, edit.document || {}, {
  events: hits.map((h) => ({ time: h.t, instrument: data.lanes[h.lane].name, note: data.lanes[h.lane].note, velocity: h.v, confidence: h.c })),
  edit: { based_on: edit.based_on || null, parent: revision, revision: null, via: "editor", at: new Date().toISOString() },
});
const download = () => {
  const blob = new Blob([JSON.stringify(documentToSave(), null, 2)], { type: "application/json" });
  const link = el("a", "", document.body);
  link.href = URL.createObjectURL(blob);
  link.download = "edited.json";
  link.click();
  setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
};
const saved = (answer) => {
  revision = answer.revision;
  if (answer.note && revisionNote) { revisionNote.textContent = "Showing the " + answer.note + ", just saved."; revisionNote.hidden = false; }
  markSaved();
  say("Saved: " + (answer.note || "revision " + answer.revision) + ".");
};
const refused = (message, stale) => {
  editState.textContent = stale ? "Not saved: changed elsewhere" : "Not saved";
  editState.classList.add("dirty");
  say((stale ? "Not saved: " : "Save failed: ") + message +
      (stale ? " Your changes are still here: Download keeps them in a file; reload the page to see the saved version." : ""));
};
const done = () => { saving = false; saveBtn.disabled = false; document.body.dataset.saving = "false"; };
function save() {
  if (saving) return;
  if (mode === "download") {
    download();
    markSaved();
    say("Downloaded edited.json. To store it: drumscribe edit " + (edit.job_id || "JOB") + " --import edited.json");
    return;
  }
  saving = true;
  saveBtn.disabled = true;
  document.body.dataset.saving = "true";
  say("Saving\u2026");
  const body = { events: documentToSave().events };
  if (mode === "parent") {
    window.parent.postMessage({ type: "drumscribe:save", revision, body }, "*");
    return;  // the answer comes as a message (below)
  }
  fetch(edit.url, {
    method: "PUT", body: JSON.stringify(body), credentials: "same-origin",
    headers: { "Content-Type": "application/json", "If-Match": '"' + revision + '"', "X-Drumscribe-Session": edit.session || "" },
  }).then(async (response) => {
    let answer = {};
    try { answer = await response.json(); } catch (e) { /* not JSON */ }
    if (response.ok) saved(answer);
    else refused(answer.detail || response.status + " " + response.statusText, response.status === 409);
  }).catch(() => refused("the editor's server has stopped (was `drumscribe edit` ended?). Download keeps your changes; " +
                         "`drumscribe edit " + (edit.job_id || "JOB") + " --import edited.json` stores them.", false))
    .finally(done);
}
window.addEventListener("message", (e) => {
  if (mode !== "parent" || e.source !== window.parent || !e.data || typeof e.data !== "object") return;
  if (e.data.type === "drumscribe:saved") { saved(e.data); done(); }
  else if (e.data.type === "drumscribe:save-failed") { refused(String(e.data.message || "failed"), e.data.status === 409); done(); }
});
const onDirty = (dirty) => { if (mode === "parent") window.parent.postMessage({ type: "drumscribe:dirty", dirty }, "*"); };
window.addEventListener("beforeunload", (e) => {
  if (!isDirty()) return;
  e.preventDefault();
  e.returnValue = "";  // the browser asks "leave the page?" with its own words
});
saveBtn.addEventListener("click", save);
$("download").addEventListener("click", () => { download(); say("Downloaded edited.json (the page's hits as they are now)."); });
if (mode === "download") {
  savedLabel = "Downloaded: not stored yet";
  $("download").hidden = true;  // Save is the download here
  saveBtn.textContent = "Save\u2026";
  saveBtn.title = "Download edited.json (Ctrl+S); `drumscribe edit " + (edit.job_id || "JOB") + " --import edited.json` stores it";
}
// `drumscribe edit` stops its server when the page is gone: a heartbeat while open, a beacon on leaving
if (mode === "server" && edit.heartbeat) {
  const pageId = Math.random().toString(36).slice(2) + Date.now().toString(36);  // a reload is another page
  const beat = () => fetch(edit.heartbeat + "?page=" + pageId, { method: "POST", headers: { "X-Drumscribe-Session": edit.session || "" } }).catch(() => {});
  beat();
  setInterval(beat, 5000);
  window.addEventListener("pagehide", () => { if (navigator.sendBeacon) navigator.sendBeacon(edit.closed + "&page=" + pageId, ""); });
}
