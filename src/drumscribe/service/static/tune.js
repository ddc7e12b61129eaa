// "Tune on my corrections": start a tuning of the caller's profile and follow it (POST/GET /api/tune).
// Self-contained (the jobs page's own script is app.js): shown on the jobs list only, once the API answers.
"use strict";

(() => {
  const POLL_MS = 2000;
  const el = (id) => document.getElementById(id);
  const headers = () => {
    const token = localStorage.getItem("drumscribe.token") || "";
    return token ? { Authorization: "Bearer " + token } : {};
  };

  async function call(method) {
    const response = await fetch("/api/tune", { method, headers: headers() });
    let doc = null;
    try { doc = await response.json(); } catch (e) { /* not JSON */ }
    if (!response.ok) throw new Error(doc && typeof doc.detail === "string" ? doc.detail : `${response.status} ${response.statusText}`);
    return doc;
  }

  function describe(status) {
    if (status.state === "running") return "tuning… " + (status.progress || "");
    if (status.state === "failed") return "tuning failed: " + (status.error || "");
    const p = status.profile;
    if (!p) return "no profile yet: transcriptions use the shipped model";
    const stale = p.stale ? ` (not used: ${p.stale})` : "";
    return `profile ${p.id} in use, tuned ${p.created_at} on ${p.jobs} corrected jobs${stale}`;
  }

  function show(status) {
    el("tune-section").hidden = false;
    el("tune-state").textContent = describe(status);
    el("tune-button").disabled = status.state === "running";
    const report = el("tune-report");
    report.textContent = (status.lines || []).join("\n");
    report.hidden = !report.textContent;
  }

  async function follow() {
    for (;;) {
      const status = await call("GET");
      show(status);
      if (status.state !== "running") return;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  el("tune-button").addEventListener("click", async () => {
    el("tune-button").disabled = true;
    try { show(await call("POST")); await follow(); }
    catch (error) { el("tune-state").textContent = error.message; el("tune-button").disabled = false; }
  });

  const begin = () => { if (location.pathname === "/") follow().catch(() => { /* no access (yet): the section stays hidden */ }); };
  el("token-form").addEventListener("submit", () => setTimeout(begin, 0));  // after app.js stored the token
  begin();
})();
