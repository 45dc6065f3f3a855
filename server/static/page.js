// The dashboard page: reads the JSON API (the same answers as the library and the CLI) and
// draws what crm_metrics/charts.py defines (embedded in the page as #views): the headline
// figures with their change against the previous period (the summary's compare=previous), the
// response-time and outcome totals, one chart per definition with its table view, and the
// tables (the outlets). The URL's query holds the selection, so a link opens the same view.
"use strict";

(() => {
  const VIEWS = JSON.parse(document.getElementById("views").textContent);
  const SELECTION = ["tenant_id", "start_date", "end_date", "tz", "granularity", "outlet_id"];
  const TOKEN_KEY = "crm-metrics-token";
  const DAY_MS = 86400000;
  const $ = (id) => document.getElementById(id);

  // What the page shows now; tests and curious people may read it (window.crmDashboard).
  const state = { listing: null, tenants: null, selection: null, answers: {}, outlets: null, charts: {} };
  window.crmDashboard = state;

  // A token given as #token=... (a fragment never reaches a server log) is kept for this tab.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
    history.replaceState(history.state, "", location.pathname + location.search);
  }

  // -- formatting: the units of crm_metrics/charts.py ------------------------------------------
  const NUMBER = {
    count: new Intl.NumberFormat("en", { maximumFractionDigits: 0 }),
    rate: new Intl.NumberFormat("en", { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }),
    one: new Intl.NumberFormat("en", { minimumFractionDigits: 1, maximumFractionDigits: 1 }),
    money: new Intl.NumberFormat("en", { style: "currency", currency: "USD" }),
  };

  function formatted(value, unit) {
    if (unit === "outlet") return value === null ? "no outlet" : value;
    if (value === null || value === undefined) return "–";
    if (unit === "date") return value;
    if (unit === "weekday") return VIEWS.weekdays[value - 1];
    if (unit === "hour") return `${String(value).padStart(2, "0")}:00`;
    if (unit === "number") return NUMBER.one.format(value);
    if (unit === "seconds") return `${NUMBER.one.format(value)} s`;
    if (unit === "minutes") return `${NUMBER.one.format(value)} min`;
    return NUMBER[unit].format(value);
  }

  // `before` and `relative` are the summary's `previous` figure and `change` (compare=previous):
  // a rate moves in percentage points (value - before), any other figure by the API's change.
  function change(value, before, relative, measure) {
    if (value === null || before === null || value === undefined || before === undefined) {
      return { text: "nothing to compare", mood: "" };
    }
    let moved = relative;
    if (measure.change === "points") moved = value - before;
    else if (relative === null) return { text: value === before ? "no change" : "new: none before", mood: "" };
    const direction = moved > 0 ? "up" : moved < 0 ? "down" : "";
    const arrow = direction === "up" ? "▲ " : direction === "down" ? "▼ " : "";
    // Coloured only where one way is good news (a lower response time is).
    const mood = direction && measure.better ? (direction === measure.better ? "good" : "bad") : "";
    const sign = moved >= 0 ? "+" : "-";
    if (measure.change === "points") return { text: `${arrow}${sign}${NUMBER.one.format(Math.abs(moved) * 100)} pts`, mood };
    return { text: `${arrow}${sign}${NUMBER.rate.format(Math.abs(moved))}`, mood };
  }

  // -- dates: local calendar dates as YYYY-MM-DD ---------------------------------------------
  const daysIn = (start, end) => Math.round((Date.parse(end) - Date.parse(start)) / DAY_MS) + 1;

  // -- the API -------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, params, tenant, { accept = "application/json", raw = false } = {}) {
    const url = new URL(path, location.origin);
    for (const [name, value] of Object.entries(params)) if (value) url.searchParams.set(name, value);
    const headers = { Accept: accept };
    if (tenant) headers["X-Tenant-Id"] = tenant;
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(url, { headers });
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        message = (await response.json()).error.message;
      } catch (ignored) {
        // not the API's error shape: keep the status line
      }
      throw new ApiError(response.status, message);
    }
    return raw ? response : response.json();
  }

  // The parameters an answer's endpoint accepts, from the selection (the others would be a 400).
  function paramsFor(answer, selection) {
    return Object.fromEntries(VIEWS.accepts[answer].filter((name) => name !== "format").map((name) => [name, selection[name] || ""]));
  }

  // -- the selection and the URL ---------------------------------------------------------------
  function fromUrl() {
    const query = new URLSearchParams(location.search);
    return Object.fromEntries(SELECTION.map((name) => [name, query.get(name) || ""]));
  }

  function toUrl(selection, replace) {
    const query = new URLSearchParams();
    for (const name of SELECTION) if (selection[name]) query.set(name, selection[name]);
    const url = location.pathname + (query.toString() ? `?${query}` : "");
    (replace ? history.replaceState : history.pushState).call(history, { ...selection }, "", url);
  }

  function fromForm() {
    const form = new FormData($("selection"));
    const selection = Object.fromEntries(SELECTION.map((name) => [name, (form.get(name) || "").trim()]));
    if (!state.listing || state.listing !== "all") selection.tenant_id = state.selection ? state.selection.tenant_id : "";
    // An outlet belongs to its tenant: another tenant starts with all outlets.
    if (state.selection && selection.tenant_id !== state.selection.tenant_id) selection.outlet_id = "";
    return selection;
  }

  function status(message, isError = false) {
    const box = $("status");
    box.textContent = message;
    box.classList.toggle("error", isError);
    box.setAttribute("role", isError ? "alert" : "status");
  }

  // -- drawing -------------------------------------------------------------------------------
  function element(tag, attributes = {}, text = null) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== null) node.textContent = text;
    return node;
  }

  function option(value, label, selected) {
    const node = element("option", { value }, label);
    node.selected = selected;
    return node;
  }

  function fillTenants(selection) {
    const select = $("tenant_id");
    const known = state.tenants.some((tenant) => tenant.id === selection.tenant_id);
    const options = state.tenants.map((tenant) => option(tenant.id, tenant.name || tenant.id, tenant.id === selection.tenant_id));
    if (!known && selection.tenant_id) options.unshift(option(selection.tenant_id, selection.tenant_id, true));
    select.replaceChildren(...options);
    $("tenant-field").hidden = state.listing !== "all";
  }

  function fillOutlets(selection, outletIds) {
    const ids = outletIds.includes(selection.outlet_id) || !selection.outlet_id ? outletIds : [selection.outlet_id, ...outletIds];
    $("outlet_id").replaceChildren(option("", "All outlets", !selection.outlet_id), ...ids.map((id) => option(id, id, id === selection.outlet_id)));
  }

  function fillForm(selection, summary) {
    $("start_date").value = summary.period_start;
    $("end_date").value = summary.period_end;
    $("tz").value = selection.tz;
    $("tz").placeholder = summary.timezone;
    $("granularity").value = selection.granularity || "day";
  }

  function drawHeader(selection, summary, tenantName) {
    const name = tenantName || summary.tenant_name || selection.tenant_id;
    $("tenant-name").textContent = name;
    document.title = `${name} · crm-metrics`;
    const outlet = selection.outlet_id ? ` · outlet ${selection.outlet_id}` : " · all outlets";
    $("period").textContent = `${summary.period_start} to ${summary.period_end} · ${summary.timezone}${outlet}`;
  }

  function card(measure, value, answer) {
    const node = element("div", { class: "headline" });
    const figure = element("dd");
    figure.append(element("span", { class: "value", "data-answer": answer, "data-field": measure.field, "data-value": JSON.stringify(value) }, formatted(value, measure.unit)));
    node.append(element("dt", {}, measure.title), figure);
    return node;
  }

  // The summary asked with compare=previous: its figures, `previous` and `change`.
  function drawHeadlines(summary) {
    const previous = summary.previous;
    const days = daysIn(summary.period_start, summary.period_end);
    $("compared").textContent = `Change against the ${days} days before: ${previous.period_start} to ${previous.period_end}.`;
    const cards = VIEWS.headlines.map((measure) => {
      const value = summary[measure.field];
      const before = previous[measure.field];
      const relative = summary.change[measure.field];
      const moved = change(value, before, relative, measure);
      const node = card(measure, value, "summary");
      node.querySelector("dd").append(
        element("span", { class: `change ${moved.mood}`, "data-previous": JSON.stringify(before), "data-change": JSON.stringify(relative), title: `previous: ${formatted(before, measure.unit)}` }, moved.text),
      );
      return node;
    });
    $("headlines").replaceChildren(...cards);
  }

  // Response times and outcomes over the whole range (each answer's `totals`).
  function drawTotals(answers) {
    $("totals").replaceChildren(...VIEWS.totals.flatMap((totals) => totals.measures.map((measure) => card(measure, answers[totals.answer].totals[measure.field], totals.answer))));
  }

  function chartBox(chart) {
    let box = $(`chart-${chart.id}`);
    if (box) return box;
    box = element("section", { class: `chart ${chart.mark}`, id: `chart-${chart.id}`, "aria-labelledby": `chart-${chart.id}-title` });
    const details = element("details");
    details.append(
      element("summary", {}, `Table: ${chart.title}`),
      element("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": `${chart.title}, as a table` }),
    );
    box.append(
      element("h2", { id: `chart-${chart.id}-title` }, chart.title),
      element("div", { class: "plot", role: "figure", "aria-label": `${chart.title}: ${chart.description} The table below holds the same numbers.` }),
      details,
    );
    $("charts").append(box);
    return box;
  }

  // A chart's table view, or a table of its own: the key columns (a row's name) as row headers.
  function table(view, rows) {
    const columns = [...view.keys, ...view.table];
    const node = element("table", { "data-view": view.id });
    node.append(element("caption", { class: "note" }, view.description));
    const head = element("tr");
    for (const column of columns) head.append(element("th", { scope: "col", "data-field": column.field }, column.title));
    const body = element("tbody");
    for (const row of rows) {
      const line = element("tr");
      columns.forEach((column, i) => {
        const key = i < view.keys.length;
        const value = row[column.field];
        const cell = element(key ? "th" : "td", { "data-field": column.field, "data-value": JSON.stringify(value) }, formatted(value, column.unit));
        if (key) cell.setAttribute("scope", "row");
        line.append(cell);
      });
      body.append(line);
    }
    const thead = element("thead");
    thead.append(head);
    node.append(thead, body);
    return node;
  }

  async function drawCharts(answers) {
    for (const chart of VIEWS.charts) {
      const box = chartBox(chart);
      const rows = answers[chart.answer][chart.rows];
      const spec = structuredClone(chart.spec);
      spec.data = { name: "rows", values: rows.map((row) => ({ ...row })) };
      if (state.charts[chart.id]) state.charts[chart.id].finalize();
      delete state.charts[chart.id];
      const plot = box.querySelector(".plot");
      plot.replaceChildren();
      // As charts.py `Chart.drawable`: a scale of no values draws nothing (and Vega warns).
      const drawable = rows.some((row) => chart.drawn.some((measure) => row[measure.field] !== null && row[measure.field] !== undefined));
      if (drawable) state.charts[chart.id] = await vegaEmbed(plot, spec, { actions: false, renderer: "svg" });
      else plot.append(element("p", { class: "note" }, VIEWS.nothing_drawn));
      box.querySelector(".table-wrap").replaceChildren(table(chart, rows));
    }
  }

  // The tables (the outlets): shown when their answer was asked (all outlets selected).
  function tableBox(view) {
    let box = $(`table-${view.id}`);
    if (box) return box;
    box = element("section", { class: "table-view", id: `table-${view.id}`, "aria-labelledby": `table-${view.id}-title` });
    box.append(
      element("h2", { id: `table-${view.id}-title` }, view.title),
      element("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": view.title }),
    );
    $("tables").append(box);
    return box;
  }

  function drawTables(answers) {
    for (const view of VIEWS.tables) {
      const box = tableBox(view);
      box.hidden = !answers[view.answer];
      if (answers[view.answer]) box.querySelector(".table-wrap").replaceChildren(table(view, answers[view.answer][view.rows]));
    }
  }

  // -- loading a selection -------------------------------------------------------------------
  async function ensureTenants(selection) {
    if (!state.tenants) {
      const body = await api("/api/v1/tenants", {}, state.listing === null && selection.tenant_id ? selection.tenant_id : null);
      state.listing = body.listing;
      state.tenants = body.tenants;
    }
    if (!selection.tenant_id && state.tenants.length) {
      selection.tenant_id = state.tenants[0].id;
      toUrl(selection, true);
    }
    fillTenants(selection);
  }

  async function load(selection) {
    document.body.dataset.state = "loading";
    status("Loading…");
    try {
      await ensureTenants(selection);
      const tenant = selection.tenant_id;
      if (!tenant) throw new ApiError(0, "No tenant to show: this store lists none. Open the page with ?tenant_id=<UUID>.");
      // The summary with the n days before it and the change (docs/metrics.md §7.3).
      const summary = await api("/api/v1/metrics/summary", { ...paramsFor("summary", selection), compare: "previous" }, tenant);
      // The range as the server resolved it (defaults filled), so every answer covers it.
      const resolved = { ...selection, start_date: summary.period_start, end_date: summary.period_end };
      // The outlet table covers every outlet: asked for when all outlets are shown.
      const kinds = VIEWS.answers.filter((kind) => kind !== "summary" && !(kind === "outlets" && selection.outlet_id));
      const [outlets, ...answers] = await Promise.all([
        api("/api/v1/outlets", { start_date: resolved.start_date, end_date: resolved.end_date, tz: selection.tz }, tenant),
        ...kinds.map((kind) => api(`/api/v1/metrics/${kind}`, paramsFor(kind, resolved), tenant)),
      ]);
      state.selection = selection;
      state.answers = { summary, ...Object.fromEntries(kinds.map((kind, i) => [kind, answers[i]])) };
      state.outlets = outlets.outlet_ids;
      const listed = state.tenants.find((entry) => entry.id === tenant);
      drawHeader(selection, summary, listed && listed.name);
      fillForm(selection, summary);
      fillOutlets(selection, outlets.outlet_ids);
      drawHeadlines(summary);
      drawTotals(state.answers);
      await drawCharts(state.answers);
      drawTables(state.answers);
      const empty = summary.total_conversations === 0 && summary.total_messages === 0;
      status(empty ? "No conversations or messages in this period." : "");
      document.body.dataset.state = "ready";
    } catch (error) {
      if (error.status === 401) $("token-form").hidden = false;
      status(error.message, true);
      document.body.dataset.state = "error";
    }
  }

  // -- wiring ----------------------------------------------------------------------------------
  $("selection").addEventListener("submit", (event) => {
    event.preventDefault();
    const selection = fromForm();
    toUrl(selection, false);
    load(selection);
  });

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    $("token-form").hidden = true;
    state.tenants = null;
    state.listing = null;
    load(fromUrl());
  });

  window.addEventListener("popstate", () => load(fromUrl()));

  async function download(what) {
    const selection = { ...state.selection, start_date: state.answers.summary.period_start, end_date: state.answers.summary.period_end };
    const [path, params, accept] =
      what === "report"
        ? ["/api/v1/reports/summary.pdf", paramsFor("summary", selection), "application/pdf"]
        : [`/api/v1/metrics/${what}`, { ...paramsFor(what, selection), format: "csv" }, "text/csv"];
    try {
      status("Preparing the file…");
      const response = await api(path, params, selection.tenant_id, { accept, raw: true });
      const match = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "");
      const link = element("a", { href: URL.createObjectURL(await response.blob()), download: match ? match[1] : what });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      status("");
    } catch (error) {
      status(error.message, true);
    }
  }

  for (const button of document.querySelectorAll("[data-download]")) {
    button.addEventListener("click", () => download(button.dataset.download));
  }

  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  $("zones").replaceChildren(...["UTC", ...zones.filter((zone) => zone !== "UTC")].map((zone) => element("option", { value: zone })));

  load(fromUrl());
})();
