// The console page: polls /api/snapshot and renders each area. Plain DOM, no framework.
"use strict";

const REFRESH_MS = 2000;

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

function num(n) {
  return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US");
}

function rate(r) {
  return r === null || r === undefined ? "–" : `${Number(r).toLocaleString("en-US", { maximumFractionDigits: r < 10 ? 1 : 0 })}/s`;
}

function bytes(b) {
  if (!b) return "–";
  const mib = b / 1048576;
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${mib.toFixed(0)} MiB`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}

function time(ms) {
  return ms ? new Date(ms).toLocaleTimeString("en-GB") : "–";
}

function ago(ms, now) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 2 ? "just now" : `${s}s ago`;
}

function figure(id, value, label) {
  return `<div class="figure"><b id="${id}">${value}</b><span>${esc(label)}</span></div>`;
}

function sparkline(values, width = 90, height = 24, color = "#2563eb") {
  if (!values || values.length < 2) return `<svg width="${width}" height="${height}"></svg>`;
  const max = Math.max(...values, 1);
  const step = width / (values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join(" ");
  return `<svg width="${width}" height="${height}" class="sparkline"><polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points}"/></svg>`;
}

function chart(history, width = 520, height = 110) {
  if (!history || history.length < 2) return `<p class="muted">The chart fills in as batches run.</p>`;
  const max = Math.max(1, ...history.map((h) => Math.max(h.input_per_second, h.processed_per_second)));
  const x = (i) => (i * (width - 40)) / (history.length - 1) + 36;
  const y = (v) => height - 14 - (v / max) * (height - 24);
  const line = (key, color) => `<polyline fill="none" stroke="${color}" stroke-width="2" points="${history.map((h, i) => `${x(i).toFixed(1)},${y(h[key]).toFixed(1)}`).join(" ")}"/>`;
  return `<svg width="100%" viewBox="0 0 ${width} ${height}" id="spark-chart">
    <text x="0" y="12" font-size="10" fill="#6b7280">${esc(rate(max))}</text>
    <text x="0" y="${height - 14}" font-size="10" fill="#6b7280">0</text>
    <line x1="36" x2="${width}" y1="${height - 14}" y2="${height - 14}" stroke="#e3e6eb"/>
    ${line("input_per_second", "#2563eb")}${line("processed_per_second", "#16a34a")}
    <text x="40" y="${height - 2}" font-size="10" fill="#2563eb">■ into Kafka</text>
    <text x="140" y="${height - 2}" font-size="10" fill="#16a34a">■ processed by the query</text>
  </svg>`;
}

function sectionError(section) {
  return section.ok ? "" : `<div class="error">${esc(section.error)}${section.data ? " — showing the last figures gathered" : ""}</div>`;
}

function renderFlow(snapshot) {
  const flow = snapshot.flow;
  const w = 190, h = 74, gap = 90, top = 18;
  const nodes = flow.nodes.map((n, i) => {
    const x = 10 + i * (w + gap);
    const mark = n.state === "down" || n.state === "behind"
      ? `<circle class="mark" cx="${x + w - 12}" cy="${top + 12}" r="7"/>` : "";
    return `<g class="node" data-node="${n.id}" data-state="${n.state}">
      <rect x="${x}" y="${top}" width="${w}" height="${h}" rx="8"/>${mark}
      <text x="${x + 12}" y="${top + 24}" font-size="15" font-weight="600">${esc(n.label)}</text>
      <text x="${x + 12}" y="${top + 44}" font-size="11" fill="#374151">${esc(n.state.toUpperCase())}</text>
      <text x="${x + 12}" y="${top + 62}" font-size="11" fill="#6b7280">${esc(n.detail.slice(0, 30))}</text>
      <title>${esc(n.detail)}</title>
    </g>`;
  }).join("");
  const edges = flow.edges.map((e, i) => {
    const x1 = 10 + i * (w + gap) + w, x2 = x1 + gap, y = top + h / 2;
    return `<g data-edge="${e.from}-${e.to}">
      <line x1="${x1 + 4}" y1="${y}" x2="${x2 - 10}" y2="${y}" stroke="#6b7280" stroke-width="2"/>
      <polygon points="${x2 - 4},${y} ${x2 - 12},${y - 5} ${x2 - 12},${y + 5}" fill="#6b7280"/>
      <text class="rate" x="${x1 + gap / 2}" y="${y - 8}" font-size="12" text-anchor="middle">${esc(rate(e.rate_per_second))}</text>
    </g>`;
  }).join("");
  const width = 10 + 4 * w + 3 * gap + 10;
  const diagram = document.getElementById("flow-diagram");
  diagram.innerHTML =
    `<svg viewBox="0 0 ${width} ${top + h + 10}" width="100%">${edges}${nodes}</svg>
     <div class="figures">${figure("flow-lag", num(flow.lag), "records waiting for the query (lag)")}</div>`;
  // Through the DOM, not a `style` attribute: the Content-Security-Policy allows no inline style.
  diagram.querySelector("svg").style.maxWidth = `${width}px`;
}

function renderKafka(section, now) {
  const el = document.querySelector("#kafka .body");
  const k = section.data;
  if (!k) { el.innerHTML = sectionError(section); return; }
  const rows = k.topics.map((t) => `<tr data-topic="${esc(t.name)}" data-role="${t.role}">
      <td>${esc(t.name)}</td><td class="num">${t.partitions.length}</td>
      <td class="num end">${num(t.end_offset)}</td><td class="num">${num(t.messages)}</td>
      <td class="num rate">${rate(t.rate_per_second)}</td><td>${sparkline(t.rate_history)}</td></tr>`).join("");
  const dlq = k.dlq_newest.map((d) => `<tr><td class="num">${time(d.timestamp_ms)}</td><td class="num">${d.partition}/${d.offset}</td>
      <td class="num">${esc(d.error_code)}</td><td>${esc(d.reason)}</td></tr>`).join("");
  el.innerHTML = sectionError(section) +
    `<div class="figures">${figure("kafka-dlq-size", num(k.dlq_size ?? 0), `in ${k.dlq_topic} (dead letters)`)}</div>
     <div class="scroll"><table id="kafka-topics"><tr><th>topic</th><th class="num">partitions</th><th class="num">end offset</th>
     <th class="num">held</th><th class="num">msg/s</th><th>last 3 min</th></tr>${rows}</table></div>
     <h3>Newest dead letters</h3>
     ${dlq ? `<div class="scroll"><table id="kafka-dlq"><tr><th>time</th><th>p/offset</th><th>code</th><th>reason</th></tr>${dlq}</table></div>` : `<p class="muted">None: every record so far was valid.</p>`}`;
}

/** The first non-empty line of a (plan-sized) Spark message, at most 300 characters. */
function firstLine(text) {
  const line = (text.split("\n").find((l) => l.trim() !== "") ?? "").trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

function renderSpark(section, history, links) {
  const el = document.querySelector("#spark .body");
  const s = section.data;
  const uis = `<p>Spark UIs: <a href="${links.spark_master}">master</a> · <a href="${links.spark_worker}">worker</a> · <a href="${links.spark_driver}">application (streaming tab)</a></p>`;
  if (!s) { el.innerHTML = sectionError(section) + uis; return; }
  const queries = s.queries.map((q) => `<tr data-query="${esc(q.name)}" data-active="${q.active}">
      <td>${esc(q.name)}<br><span class="muted">${esc(q.message ?? "")}</span></td>
      <td><span class="pill ${q.active ? "ok" : "down"}">${q.active ? "active" : "stopped"}</span></td>
      <td class="num">${q.batch_id ?? "–"}</td><td class="num">${rate(q.input_rows_per_second)}</td>
      <td class="num">${rate(q.processed_rows_per_second)}</td><td class="num">${q.batch_duration_ms ?? "–"} ms</td></tr>
      ${q.exception ? `<tr><td colspan="6"><div class="error">${esc(firstLine(q.exception))} <span class="muted">(full text: <code>userstream stream status --json</code>)</span></div></td></tr>` : ""}`).join("");
  const events = (s.supervisor_events ?? []).slice().reverse().map((e) =>
    `<li><span class="muted">${esc(e.at)}</span> ${esc(e.event)}</li>`).join("");
  const last = history.length ? history[history.length - 1] : null;
  el.innerHTML = sectionError(section) +
    `<div class="figures">
       ${figure("spark-processed", rate(last?.processed_per_second), "processed (offsets/s)")}
       ${figure("spark-lag", num(last?.lag), "lag (end offsets − query's offsets)")}
     </div>
     ${chart(history)}
     <table id="spark-queries"><tr><th>query</th><th>state</th><th class="num">batch</th><th class="num">input</th>
     <th class="num">processed</th><th class="num">last batch</th></tr>${queries}</table>
     <h3>Supervisor</h3>${events ? `<ul id="supervisor-events">${events}</ul>` : `<p class="muted" id="supervisor-events">no supervisor event yet (<code>userstream stream run</code> or the <code>users_stream</code> DAG writes them)</p>`}${uis}`;
}

function estimateText(e) {
  return e && e.rows !== null && e.rows !== undefined ? `≈ ${num(e.rows)}` : "≈ –";
}

// How the users estimate was made, from Cassandra's own figures (no refresh scans the table).
function estimateNote(e, now) {
  const disk = e.on_disk === null || e.on_disk === undefined
    ? "Cassandra has not recorded an on-disk estimate for it yet (it does every 5 min)"
    : `${num(e.on_disk)} on disk when Cassandra recorded its estimate ${ago(e.recorded_at_ms, now)} (<code>system.table_estimates</code>)`;
  const basis = {
    on_disk_plus_writes: `${disk}, plus ${num(e.writes_since_recorded)} writes counted since`,
    on_disk: `${disk}; writes since then not known yet`,
    writes_since_start: `the writes Cassandra counted since it started, more than its on-disk figure: rows still in memtables. ${disk}`,
    nothing: disk,
  }[e.basis] ?? disk;
  return `Estimated: ${basis}. Replays of existing rows count as rows here.`;
}

function renderCassandra(section, now) {
  const el = document.querySelector("#cassandra .body");
  const c = section.data;
  if (!c) { el.innerHTML = sectionError(section); return; }
  const e = c.users_estimate;
  const users = c.newest_users.map((u) => `<tr title="${esc(u.id)} · Kafka ${esc(u.kafka_position)}"><td>${esc(u.full_name)}</td>
      <td>${esc(u.email)}</td><td>${esc(u.country)}</td><td class="num">${u.age_at_ingest ?? "–"}</td></tr>`).join("");
  const rejected = c.newest_rejected.map((r) => `<tr><td>${esc(r.topic)} ${r.partition}/${r.offset}</td>
      <td>${esc(r.reason)}</td><td>${time(r.first_seen_ms)}</td></tr>`).join("");
  el.innerHTML = sectionError(section) +
    `<div class="figures"><div class="figure"><b id="cassandra-users" data-estimate="true" data-rows="${e.rows ?? ""}">${estimateText(e)}</b><span>rows in ${esc(c.keyspace)}.users (estimated)</span></div>
       ${figure("cassandra-writes", num(c.users_writes), "writes to it since Cassandra started")}
       ${figure("cassandra-rejected", `${c.rejected.at_least ? "≥ " : ""}${num(c.rejected.rows)}`, c.rejected.at_least ? `rejected rows (read ${num(c.rejected.per_partition_limit)} newest per partition)` : "rejected rows")}</div>
     <p class="muted">${estimateNote(e, now)} No refresh scans a table; an exact count is the button below.</p>
     <h3>Newest users landed</h3>
     ${users ? `<table id="cassandra-newest"><tr><th>name</th><th>email</th><th>country</th><th class="num">age</th></tr>${users}</table>` : `<p class="muted">None of the newest Kafka records has landed yet.</p>`}
     <h3>Newest rejected rows</h3>
     ${rejected ? `<table><tr><th>position</th><th>reason</th><th>first seen</th></tr>${rejected}</table>` : `<p class="muted">None.</p>`}`;
}

// The explicit exact count: outside the area's body, so a refresh does not redraw the button.
function renderCount(count) {
  const button = document.getElementById("cassandra-count");
  const result = document.getElementById("cassandra-count-result");
  const running = count?.state === "running";
  button.disabled = running;
  result.dataset.state = count?.state ?? "";
  result.dataset.rows = count ? String(count.rows) : "";
  result.textContent = count ? count.summary : "A full scan of users, stopped after its time limit; never repeated by itself.";
}

async function startCount() {
  const button = document.getElementById("cassandra-count");
  button.disabled = true;
  try {
    const response = await fetch("/api/cassandra/count", { method: "POST" });
    if (response.status === 401) throw new Error((await response.json()).error);
    renderCount(await response.json());
  } catch (e) {
    document.getElementById("cassandra-count-result").textContent = `could not start the count: ${e.message}`;
    button.disabled = false;
  }
}

function renderRegistry(section, links) {
  const el = document.querySelector("#registry .body");
  const r = section.data;
  if (!r) { el.innerHTML = sectionError(section); return; }
  const p = r.pipeline_subject;
  const others = r.subjects.filter((s) => !p || s !== p.name);
  el.innerHTML = sectionError(section) +
    (p ? `<div class="figures">${figure("registry-subject", esc(p.name), "pipeline subject")}
           ${figure("registry-versions", p.versions.length, "versions")}
           ${figure("registry-compat", esc(p.compatibility ?? "global default"), "compatibility")}
           ${figure("registry-id", p.latest_id ?? "–", "latest schema id")}</div>
         <details><summary>Current schema</summary><pre class="schema">${esc(p.latest_schema)}</pre></details>`
       : `<p class="muted">The pipeline's subject is not registered yet (<code>userstream setup</code>).</p>`) +
    `<p class="muted">${r.subjects.length} subjects${others.length ? `; others: ${others.slice(0, 8).map(esc).join(", ")}${others.length > 8 ? ", …" : ""}` : ""}. API: <a href="${links.registry}/subjects">${esc(links.registry)}</a></p>`;
}

function renderAirflow(section, links) {
  const el = document.querySelector("#airflow .body");
  const a = section.data;
  const ui = `<p><a href="${links.airflow}">Airflow UI</a> (user admin, password in <code>.userstream/data/airflow/secrets.json</code>)</p>`;
  if (!a) { el.innerHTML = sectionError(section) + ui; return; }
  const stateClass = (s) => s === "success" ? "ok" : s === "failed" ? "down" : s === "running" || s === "queued" ? "behind" : "idle";
  const rows = a.dags.map((d) => {
    const last = d.runs[0];
    const history = d.runs.map((r) => `<span class="pill ${stateClass(r.state)}" title="${esc(r.run_id)}">${esc(r.state)}</span>`).join(" ");
    return `<tr data-dag="${esc(d.dag_id)}"><td>${esc(d.dag_id)}${d.is_paused ? ` <span class="muted">(paused)</span>` : ""}</td>
      <td>${esc(d.schedule ?? "")}</td><td>${last ? esc((last.start_date ?? "").replace("T", " ").slice(0, 19)) : "never run"}</td><td>${history}</td></tr>`;
  }).join("");
  el.innerHTML = sectionError(section) +
    `<table id="airflow-dags"><tr><th>DAG</th><th>schedule</th><th>last run</th><th>newest runs</th></tr>${rows}</table>${ui}`;
}

function renderStack(section) {
  const el = document.querySelector("#stack .body");
  const rows = section.data;
  if (!rows) { el.innerHTML = sectionError(section); return; }
  const healthy = rows.filter((r) => r.healthy).length;
  const hint = healthy === 0 ? `<div class="error">Nothing runs: start the stack with <code>./userstream stack up</code>.</div>` : "";
  el.innerHTML = sectionError(section) + hint +
    `<div class="figures">${figure("stack-healthy", `${healthy}/${rows.length}`, "services healthy")}
       ${figure("stack-rss", bytes(rows.reduce((a, r) => a + r.rss_bytes, 0)), "memory (RSS)")}</div>
     <table id="stack-services"><tr><th>service</th><th></th><th class="num">pid</th><th class="num">uptime</th><th class="num">RSS</th><th>detail</th></tr>
     ${rows.map((r) => `<tr data-service="${esc(r.service)}" data-healthy="${r.healthy}">
       <td>${esc(r.service)}</td><td><span class="pill ${r.healthy ? "ok" : "down"}">${r.healthy ? "up" : "down"}</span></td>
       <td class="num">${r.pid ?? "–"}</td><td class="num">${duration(r.uptime_seconds)}</td><td class="num">${bytes(r.rss_bytes)}</td>
       <td title="${esc(r.log)}">${esc(r.detail.split("\n")[0].slice(0, 90))}</td></tr>`).join("")}</table>`;
}

function markSection(id, section) {
  document.getElementById(id).dataset.ok = String(section.ok);
}

let failures = 0;
async function refresh() {
  const line = document.getElementById("status-line");
  try {
    const response = await fetch("/api/snapshot", { cache: "no-store" });
    if (response.status === 401) {
      // The token's cookie is gone (another browser session, a new stack): say how to get it.
      const refusal = await response.json().catch(() => ({}));
      line.className = "stale";
      line.textContent = refusal.error ?? "This console needs its token.";
      return;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const s = await response.json();
    const now = s.generated_at_ms;
    renderFlow(s);
    renderKafka(s.kafka, now);
    renderSpark(s.spark, s.spark_history, s.links);
    renderCassandra(s.cassandra, now);
    renderCount(s.cassandra_count);
    renderRegistry(s.registry, s.links);
    renderAirflow(s.airflow, s.links);
    renderStack(s.stack);
    for (const id of ["kafka", "spark", "cassandra", "registry", "airflow", "stack"]) markSection(id, s[id]);
    failures = 0;
    line.className = "";
    line.textContent = `updated ${time(now)} · Kafka ${ago(s.kafka.updated_at_ms, now)}, Spark ${ago(s.spark.updated_at_ms, now)}, Cassandra ${ago(s.cassandra.updated_at_ms, now)}`;
    document.body.dataset.updated = String(now);
  } catch (e) {
    failures += 1;
    line.className = "stale";
    line.textContent = `the console server does not answer (${e.message}); retrying…`;
  }
}

document.getElementById("cassandra-count").addEventListener("click", startCount);
refresh();
setInterval(refresh, REFRESH_MS);
