// The corral dashboard: reads the JSON API of the server that sent it, read-only.
// Over TCP the API needs a token: open the page as /#token=TOKEN once; it is kept for the
// tab's session (sessionStorage) and removed from the address bar.
"use strict";

const REFRESH_MS = 1000;
const match = location.hash.match(/token=([^&]+)/);
if (match) {
  sessionStorage.setItem("corral-token", decodeURIComponent(match[1]));
  history.replaceState(null, "", location.pathname);
}

async function api(path) {
  const token = sessionStorage.getItem("corral-token");
  const response = await fetch(path, {
    headers: token ? {Authorization: "Bearer " + token} : {},
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith("data-") || key === "class" || key === "title" || key === "style") {
      node.setAttribute(key, value);
    } else {
      node[key] = value;
    }
  }
  node.append(...children.map((child) => child instanceof Node ? child : String(child ?? "")));
  return node;
}

function duration(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  const h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s).padStart(2, "0");
}

function clock(epoch) {
  return epoch ? new Date(epoch * 1000).toLocaleTimeString() : "";
}

function jobRow(job, cells) {
  const row = element("tr", {"data-job": job.id, "data-state": job.state_name,
                             "data-result": job.result_name || ""},
                      ...cells.map((cell) => cell instanceof Node ? cell : element("td", {}, cell)));
  row.onclick = () => { location.hash = "job=" + job.id; };
  return row;
}

function renderNodes(nodes) {
  const grid = document.getElementById("nodes");
  const counts = {idle: 0, allocated: 0, drained: 0};
  grid.replaceChildren(...nodes.map((node) => {
    const used = node.ncores - node.free_cores;
    const state = node.drained ? "drained" : used || node.ngpus - node.free_gpus
      ? "allocated" : "idle";
    counts[state] += 1;
    const title = `${node.name}: ${used}/${node.ncores} cores, ` +
      `${node.ngpus - node.free_gpus}/${node.ngpus} GPUs in use` +
      (node.drained ? ` (drained: ${node.reason || ""})` : "");
    return element("div", {class: "node " + state, "data-node": node.name, title,
                           style: `--load: ${node.ncores ? used / node.ncores : 0}`},
                   node.name, element("br"), `${used}/${node.ncores}`);
  }));
  document.getElementById("node-summary").textContent =
    `${counts.idle} idle, ${counts.allocated} allocated, ${counts.drained} drained`;
}

function renderJobs(active, recent) {
  const now = Date.now() / 1000;
  const running = active.filter((job) => job.state_name === "RUN" ||
                                         job.state_name === "CLEANUP");
  const pending = active.filter((job) => !running.includes(job));
  document.getElementById("running").replaceChildren(...running.map((job) => jobRow(job, [
    job.id, job.userid, job.name, job.queue || "", job.nodelist || "",
    duration(now - job.t_run)])));
  document.getElementById("pending").replaceChildren(...pending.map((job) => jobRow(job, [
    job.id, job.userid, job.name, job.queue || "", job.priority ?? "",
    job.reason || job.state_name])));
  document.getElementById("recent").replaceChildren(...recent.map((job) => jobRow(job, [
    job.id, job.userid, job.name, element("td", {class: job.result_name}, job.result_name),
    clock(job.t_inactive)])));
  document.getElementById("running-count").textContent = `(${running.length})`;
  document.getElementById("pending-count").textContent = `(${pending.length})`;
}

function renderChart(samples) {
  const chart = document.getElementById("chart");
  if (samples.length < 2) {
    chart.replaceChildren();
    return;
  }
  const first = samples[0].time, span = samples[samples.length - 1].time - first || 1;
  const points = samples.map((sample) => {
    const x = 600 * (sample.time - first) / span;
    const y = 115 - 110 * (sample.cores ? sample.cores_used / sample.cores : 0);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points.join(" "));
  chart.replaceChildren(line);
}

// The recently ended jobs are read every 5 s, and at once when an active job is gone: a
// listing of the history costs the instance a pass over all of it.
let recentJobs = [];
let activeIds = new Set();

async function refreshOverview(tick) {
  const [nodes, active] = await Promise.all([
    api("/api/v1/nodes"),
    api("/api/v1/jobs?state=active&user=" + userScope + "&limit=1000"),
  ]);
  const ids = new Set(active.jobs.map((job) => job.id));
  if (tick % 5 === 0 || [...activeIds].some((id) => !ids.has(id))) {
    recentJobs = (await api("/api/v1/jobs?state=inactive&user=" + userScope +
                            "&limit=50")).jobs;
  }
  activeIds = ids;
  renderNodes(nodes.nodes);
  renderJobs(active.jobs, recentJobs);
  if (tick % 10 === 0) renderChart((await api("/api/v1/utilization")).samples);
}

async function refreshJob(id) {
  const [job, eventlog, output] = await Promise.all([
    api(`/api/v1/jobs/${id}`), api(`/api/v1/jobs/${id}/eventlog`),
    api(`/api/v1/jobs/${id}/output`),
  ]);
  document.getElementById("job-title").textContent = `Job ${job.id} ${job.name || ""}`;
  const fields = [["state", job.state_name], ["result", job.result_name || ""],
                  ["user", job.userid], ["queue", job.queue || ""],
                  ["nodes", job.nodelist || ""], ["submitted", clock(job.t_submit)]];
  document.getElementById("job-fields").replaceChildren(
    ...fields.flatMap(([name, value]) => [element("dt", {}, name), element("dd", {}, value)]));
  const start = eventlog.events.length ? eventlog.events[0].timestamp : 0;
  document.getElementById("timeline").replaceChildren(...eventlog.events.map((event) =>
    element("li", {"data-event": event.name},
            element("time", {}, "+" + (event.timestamp - start).toFixed(3) + " s"),
            event.name, " ", event.context ? JSON.stringify(event.context) : "")));
  document.getElementById("output").textContent = output.stdout + output.stderr;
}

let userScope = "me";
let tick = 0;

async function refresh() {
  const id = (location.hash.match(/job=(\d+)/) || [])[1];
  document.getElementById("overview").hidden = Boolean(id);
  document.getElementById("job").hidden = !id;
  try {
    await (id ? refreshJob(id) : refreshOverview(tick));
    document.getElementById("status").textContent = "";
  } catch (error) {
    document.getElementById("status").textContent = error.message;
  }
  tick += 1;
  setTimeout(refresh, REFRESH_MS);
}

window.addEventListener("hashchange", () => { tick = 0; });

(async () => {
  try {
    const me = await api("/api/v1/whoami");
    userScope = me.owner ? "all" : "me";
    document.getElementById("who").textContent =
      `uid ${me.userid}${me.owner ? " (instance owner: all users' jobs)" : ""}`;
  } catch (error) {
    document.getElementById("status").textContent = error.message;
  }
  refresh();
})();
