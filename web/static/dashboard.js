// repairlab dashboard: refreshes the live part by itself and sends the operator's actions.
//
// The token is pasted once and kept in this tab's sessionStorage; actions send it as an
// Authorization header from fetch(), which a cross-site form cannot do (CSRF), and the
// server refuses a request from another origin even with the token.
"use strict";
(function () {
  const body = document.body;
  const refresh = Number(body.dataset.refresh || 3) * 1000;
  const live = document.getElementById("live");
  const notice = document.getElementById("notice");
  const KEY = "repairlab-token";

  function say(text, error) {
    notice.textContent = text;
    notice.className = error ? "error" : "";
  }

  function token() { return sessionStorage.getItem(KEY) || ""; }

  function showTokenState() {
    const state = document.getElementById("token-state");
    if (state) state.textContent = token() ? "token set" : "no token: buttons will be refused";
  }

  // -- filters: kept outside the refreshed rows, applied again after each refresh ------
  const chosen = { reason: "", lineage: "" };

  function fillFilter(select, attr) {
    const rows = document.querySelectorAll("#quarantine-rows tr[data-" + attr + "]");
    const values = Array.from(new Set(Array.from(rows, (r) => r.dataset[attr]))).sort();
    select.replaceChildren();
    const all = document.createElement("option");
    all.value = ""; all.textContent = "all";
    select.append(all);
    for (const v of values) {
      const option = document.createElement("option");
      option.value = v; option.textContent = v;
      select.append(option);
    }
    if (values.includes(chosen[attr])) select.value = chosen[attr];
    else chosen[attr] = select.value = "";
  }

  function applyFilters() {
    const reason = document.getElementById("filter-reason");
    const lineage = document.getElementById("filter-lineage");
    if (!reason || !lineage) return;
    fillFilter(reason, "reason");
    fillFilter(lineage, "lineage");
    for (const row of document.querySelectorAll("#quarantine-rows tr[data-reason]")) {
      const shown = (!chosen.reason || row.dataset.reason === chosen.reason)
        && (!chosen.lineage || row.dataset.lineage === chosen.lineage);
      row.classList.toggle("hidden", !shown);
    }
    const bulk = document.getElementById("release-all");
    if (bulk) bulk.textContent = (chosen.reason || chosen.lineage)
      ? "release the " + shownNames().length + " shown" : "release all";
  }

  function shownNames() {
    return Array.from(document.querySelectorAll("#quarantine-rows tr:not(.hidden) button[data-release]"),
      (b) => b.dataset.release);
  }

  // -- refresh -------------------------------------------------------------------------
  let busy = false;
  async function update() {
    if (busy) return;
    busy = true;
    try {
      const response = await fetch("/fragment", { cache: "no-store" });
      if (!response.ok) throw new Error(response.status + " " + (await response.text()));
      live.innerHTML = await response.text();
      applyFilters();
      if (notice.className === "error" && notice.dataset.stale) say("");
    } catch (err) {
      say("refresh failed: " + err.message, true);
      notice.dataset.stale = "1";
    } finally {
      busy = false;
    }
  }

  // -- actions -------------------------------------------------------------------------
  async function post(path) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Authorization": "Bearer " + token() },
      cache: "no-store",
    });
    const text = await response.text();
    if (!response.ok) throw new Error(response.status + ": " + text.trim());
    return JSON.parse(text);
  }

  async function release(names, all) {
    if (!token()) { say("paste the operator token first", true); return; }
    try {
      if (all) {
        const result = await post("/api/quarantine/release-all");
        say("released " + result.released.length
          + (result.errors.length ? "; not released: " + result.errors.join("; ") : ""),
          result.errors.length > 0);
      } else {
        const done = [];
        for (const name of names) {
          await post("/api/quarantine/" + encodeURIComponent(name) + "/release");
          done.push(name);
        }
        say("released " + done.join(", "));
      }
    } catch (err) {
      say("release refused: " + err.message, true);
    }
    await update();
  }

  document.addEventListener("click", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLElement)) return;
    if (target.id === "token-save") {
      const input = document.getElementById("token");
      sessionStorage.setItem(KEY, input.value.trim());
      input.value = "";
      showTokenState();
    } else if (target.dataset.release) {
      release([target.dataset.release], false);
    } else if (target.id === "release-all") {
      const filtered = chosen.reason || chosen.lineage;
      release(filtered ? shownNames() : [], !filtered);
    }
  });

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.id === "filter-reason") chosen.reason = target.value;
    else if (target.id === "filter-lineage") chosen.lineage = target.value;
    else return;
    applyFilters();
  });

  showTokenState();
  applyFilters();
  setInterval(update, refresh);
})();
