// drumscribe's page: upload songs straight to storage, follow their jobs, show results.
// No framework and no CDN: everything the page needs is served by the app itself.
"use strict";

const $ = (selector) => document.querySelector(selector);
const TOKEN_KEY = "drumscribe.token";
const POLL_MS = 1000;
const ACTIVE = new Set(["queued", "running"]);
let info = null;
const polling = new Set();

// --- talking to the API ---------------------------------------------------------------------

function token() { return localStorage.getItem(TOKEN_KEY) || ""; }

function authHeaders() { return token() ? { Authorization: "Bearer " + token() } : {}; }

async function api(path, { method = "GET", json } = {}) {
  const headers = authHeaders();
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  const response = await fetch(path, { method, headers, body });
  if (response.status === 401) { showLogin(); throw new Error("this server needs an API token"); }
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try { const doc = await response.json(); detail = typeof doc.detail === "string" ? doc.detail : JSON.stringify(doc.detail); } catch (e) { /* not JSON */ }
    throw new Error(detail);
  }
  return response;
}

function showError(message) {
  const el = $("#error");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => { el.hidden = true; }, 8000);
}

function showLogin() { $("#main").hidden = true; $("#login").hidden = false; }

// --- uploading --------------------------------------------------------------------------------

async function sha256Hex(file) {
  // the key records the content hash when the browser can compute it (secure contexts only)
  if (!(window.crypto && crypto.subtle)) return null;
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function storageError(xhr) {
  const text = xhr.responseText || "";
  const message = /<Message>([^<]*)<\/Message>/.exec(text);
  if (message) return message[1];
  try { return JSON.parse(text).detail; } catch (e) { return `storage answered ${xhr.status}`; }
}

function postForm(ticket, file, onProgress) {
  // a presigned POST: the ticket's fields, then the file last. The audio goes straight to the
  // storage (S3, or this app when there is no bucket); the app server never relays it.
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(ticket.fields)) form.append(name, value);
    form.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", ticket.url);
    if (ticket.url.startsWith("/")) for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(new Error(storageError(xhr))));
    xhr.onerror = () => reject(new Error(
      `the upload to ${new URL(ticket.url, location.href).origin} failed; if its CORS rules do not allow this page, run: drumscribe setup cors --origins ${location.origin}`));
    xhr.send(form);
  });
}

async function uploadOne(file) {
  const item = document.createElement("li");
  const label = document.createElement("span");
  const bar = document.createElement("progress");
  bar.max = 1; bar.value = 0;
  label.textContent = file.name + " ";
  item.append(label, bar);
  $("#uploads").append(item);
  try {
    checkSize(file);
    const sha256 = await sha256Hex(file);
    const ticket = await (await api("/api/uploads", {
      method: "POST", json: { filename: file.name, size: file.size, content_type: file.type || null, sha256 },
    })).json();
    await postForm(ticket, file, (fraction) => { bar.value = fraction; });
    bar.value = 1;
    const job = await (await api("/api/jobs", { method: "POST", json: { upload_key: ticket.key } })).json();
    item.remove();
    upsertJob(job);
    follow(job.job_id);
  } catch (error) {
    bar.remove();
    label.textContent = failedUpload(file, error);
    label.className = "error-line";
  }
}

const FLAC_SOURCES = /\.(wav|wave|rf64|w64|aif|aiff)$/i;  // stored as lossless FLAC, as the CLI does

function mb(bytes) { return `${+(bytes / 1048576).toFixed(2)} MB`; }

function checkSize(file) {
  // the limit is on what is stored: a WAV or AIFF is stored as a lossless FLAC (about half the
  // size), so it may be sent bigger; the job then checks the FLAC (service/stored.py)
  const wav = FLAC_SOURCES.test(file.name);
  const bound = wav ? info.max_wav_bytes : info.max_bytes;
  if (file.size <= bound) return;
  throw new Error(`${mb(file.size)}, over the ${mb(info.max_bytes)} upload limit`
    + (wav ? ` even as a lossless FLAC (at most ${mb(bound)} of WAV may be sent)` : ""));
}

function failedUpload(file, error) {
  // one mention of the file: the server's messages name it already
  return error.message.startsWith(file.name) ? error.message : `${file.name}: ${error.message}`;
}

function uploadAll(files) { for (const file of files) uploadOne(file); }

// --- jobs -------------------------------------------------------------------------------------

function when(stamp) { return stamp ? new Date(stamp).toLocaleString([], { dateStyle: "short", timeStyle: "short" }) : ""; }

function link(text, href) {
  const a = document.createElement("a");
  a.textContent = text; a.href = href;
  return a;
}

function downloadLink(text, href, name) {
  // saved as `name` (the song's name, not output.mid): the attribute names a same-origin download,
  // S3 names a presigned one by the Content-Disposition signed into the link
  const a = link(text, href);
  a.setAttribute("download", name || ""); a.className = "download"; a.dataset.kind = text.toLowerCase();
  return a;
}

function button(text, action) {
  const b = document.createElement("button");
  b.type = "button"; b.className = "link"; b.textContent = text;
  b.addEventListener("click", action);
  return b;
}

function upsertJob(job) {
  const body = $("#jobs tbody");
  let row = body.querySelector(`tr[data-job-id="${job.job_id}"]`);
  if (!row) {
    row = document.createElement("tr");
    row.dataset.jobId = job.job_id;
    body.prepend(row);
  }
  row.dataset.state = job.state;
  row.replaceChildren();
  const name = document.createElement("td");
  name.textContent = job.filename || job.job_id;
  const state = document.createElement("td");
  const label = document.createElement("span");
  label.className = `state state-${job.state}`;
  label.textContent = job.state;
  state.append(label);
  if (job.error) {
    const line = document.createElement("div");
    line.className = "error-line"; line.textContent = job.error;
    state.append(line);
  }
  const started = document.createElement("td");
  started.textContent = when(job.created_at || job.finished_at);
  const result = document.createElement("td");
  if (job.state === "done" && job.result) {
    result.append(link("view", `/jobs/${job.job_id}`), downloadLink("MIDI", job.result.midi_url, job.result.midi_name),
                  downloadLink("JSON", job.result.json_url, job.result.json_name));
    if (job.result.edited) result.append("(edited)");
  }
  const actions = document.createElement("td");
  if (job.retryable) actions.append(button("retry", () => retry(job.job_id)));
  if (!ACTIVE.has(job.state)) actions.append(button("delete", () => remove(job.job_id)));
  row.append(name, state, started, result, actions);
  $("#no-jobs").hidden = body.children.length > 0;
}

async function follow(jobId) {
  // poll the status endpoint until the job settles; the page never reloads
  if (polling.has(jobId)) return;
  polling.add(jobId);
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      const job = await (await api(`/api/jobs/${jobId}`)).json();
      upsertJob(job);
      if (currentJob() === jobId) showResult(jobId, job);
      if (!ACTIVE.has(job.state)) break;
    }
  } catch (error) {
    showError(error.message);
  } finally {
    polling.delete(jobId);
  }
}

async function retry(jobId) {
  try { upsertJob(await (await api(`/api/jobs/${jobId}/retry`, { method: "POST" })).json()); follow(jobId); }
  catch (error) { showError(error.message); }
}

async function remove(jobId) {
  if (!confirm("Delete this job, its results and its upload?")) return;
  try {
    await api(`/api/jobs/${jobId}`, { method: "DELETE" });
    const row = $(`#jobs tr[data-job-id="${jobId}"]`);
    if (row) row.remove();
    $("#no-jobs").hidden = $("#jobs tbody").children.length > 0;
  } catch (error) { showError(error.message); }
}

async function loadJobs() {
  const list = await (await api("/api/jobs")).json();
  $("#jobs tbody").replaceChildren();
  for (const job of list.jobs.slice().reverse()) upsertJob(job);  // upsert prepends: oldest first
  $("#no-jobs").hidden = list.jobs.length > 0;
  for (const job of list.jobs) if (ACTIVE.has(job.state)) follow(job.job_id);
}

// --- one job's result page (/jobs/<id>) -------------------------------------------------------

function currentJob() {
  const match = /^\/jobs\/([A-Za-z0-9_-]+)$/.exec(location.pathname);
  return match ? match[1] : null;
}

async function showResult(jobId, job) {
  $("#result").hidden = false;
  $("#drop").hidden = true;
  $("#jobs-section").hidden = true;
  $("#result-title").textContent = job.filename || jobId;
  $("#result-title").hidden = job.state === "done";  // the result page has its own title
  const status = $("#result-status");
  status.textContent = job.state === "done" ? "" : job.state + (job.error ? `: ${job.error}` : "");
  if (job.state === "done" && !showResult.shown) {
    showResult.shown = true;
    const html = await (await api(`/api/jobs/${jobId}/view`)).text();
    wireEditorFrame(jobId);
    $("#result-frame").srcdoc = html;
  } else if (ACTIVE.has(job.state)) {
    follow(jobId);
  }
}

// --- the editor in the result frame ----------------------------------------------------------
// The result page runs sandboxed (no token, no API): it asks this page to save its hits, and says
// when it has unsaved changes so that leaving asks first. Messages count only from that frame.

let resultDirty = false;

function wireEditorFrame(jobId) {
  const frame = $("#result-frame");
  const reply = (message) => frame.contentWindow.postMessage(message, "*");  // the frame's origin is opaque ("null")
  window.addEventListener("message", async (e) => {
    if (e.source !== frame.contentWindow || !e.data || typeof e.data !== "object") return;
    if (e.data.type === "drumscribe:dirty") { resultDirty = Boolean(e.data.dirty); return; }
    if (e.data.type !== "drumscribe:save") return;
    try {
      const response = await fetch(`/api/jobs/${jobId}/edited`, {
        method: "PUT", body: JSON.stringify(e.data.body),
        headers: { ...authHeaders(), "Content-Type": "application/json", "If-Match": `"${e.data.revision}"` },
      });
      let doc = {};
      try { doc = await response.json(); } catch (err) { /* not JSON */ }
      if (response.status === 401) showLogin();
      if (response.ok) reply({ type: "drumscribe:saved", ...doc });
      else reply({ type: "drumscribe:save-failed", status: response.status, message: typeof doc.detail === "string" ? doc.detail : response.statusText });
    } catch (error) {
      reply({ type: "drumscribe:save-failed", status: 0, message: `the server did not answer (${error.message})` });
    }
  });
  window.addEventListener("beforeunload", (e) => {
    if (!resultDirty) return;
    e.preventDefault();
    e.returnValue = "";
  });
}

// --- start ------------------------------------------------------------------------------------

function wireDropZone() {
  const zone = $("#drop");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault(); zone.classList.remove("over");
    uploadAll(e.dataTransfer.files);
  });
  $("#file").addEventListener("change", (e) => { uploadAll(e.target.files); e.target.value = ""; });
}

async function start() {
  try {
    info = await (await api("/api/info")).json();
  } catch (error) {
    if (!$("#login").hidden) return;
    showError(error.message);
    return;
  }
  $("#login").hidden = true;
  $("#main").hidden = false;
  $("#who").textContent = `${info.user} · ${info.backend === "s3" ? "S3 bucket " + info.bucket : "local storage"}`;
  $("#limits").textContent = `WAV, FLAC, MP3, OGG, AIFF or M4A, up to ${mb(info.max_bytes)} as stored `
    + `(a WAV or AIFF is kept as lossless FLAC, so up to ${mb(info.max_wav_bytes)} of WAV may fit).`;
  const jobId = currentJob();
  if (jobId) {
    try { await showResult(jobId, await (await api(`/api/jobs/${jobId}`)).json()); }
    catch (error) { showError(error.message); }
  } else {
    await loadJobs().catch((error) => showError(error.message));
  }
}

$("#token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  localStorage.setItem(TOKEN_KEY, $("#token").value.trim());
  start();
});
wireDropZone();
start();
