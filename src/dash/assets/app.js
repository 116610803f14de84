// app.js - the dashboard's shell: loads the session, draws the navigation
// and the environment switcher, and routes #/{env}/{page}/{id}?{query} to
// the page views of pages.js.
import { state, h, api, toast, errorBox, go } from "./ui.js";
import { pages } from "./pages.js";

const NAV = [
  ["runs", "Runs"], ["tasks", "Tasks"], ["deployments", "Deployments"], ["queues", "Queues"], ["schedules", "Schedules"],
  ["tokens", "Waitpoint tokens"], ["batches", "Batches"], ["sessions", "Sessions"],
  ["envvars", "Environment variables"], ["keys", "API keys"],
];

let cleanup = null;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const env = state.envs.some((e) => e.slug === parts[0]) ? parts.shift() : null;
  return { env, page: parts[0] || "runs", id: parts[1] || null, query: new URLSearchParams(query) };
}

function shell() {
  const envSelect = h("select", {
    id: "env", "aria-label": "Environment",
    onchange: (e) => {
      state.env = e.target.value;
      localStorage.setItem("triggerd.env", state.env);
      const r = parseHash();
      go(r.page === "run" ? "runs" : r.page, null, null);
    },
  }, state.envs.map((e) => h("option", { value: e.slug }, e.slug)));
  envSelect.value = state.env;
  const nav = h("nav", { "aria-label": "Main" },
    h("ul", {}, NAV.filter(([p]) => p !== "deployments" || state.features.deployments).map(([p, label]) => h("li", {}, h("a", { href: `#/${state.env}/${p}`, "data-page": p }, label)))));
  const logout = h("button", {
    type: "button", class: "secondary", id: "logout",
    onclick: async () => {
      try {
        await api("/logout", { method: "POST" });
      } finally {
        location.assign("/login");
      }
    },
  }, "Log out");
  return h("div", { class: "layout" },
    h("header", { class: "top" },
      h("a", { class: "brand", href: `#/${state.env}/runs` }, "triggerd"),
      h("span", { class: "project", title: state.project.ref }, state.project.name || state.project.ref),
      h("div", { class: "field inline" }, h("label", { for: "env" }, "Environment"), envSelect),
      logout),
    nav,
    h("main", { id: "main", tabindex: "-1" }));
}

async function route() {
  const r = parseHash();
  if (!r.env) {
    location.replace(`#/${state.env}/${r.page}${r.id ? `/${encodeURIComponent(r.id)}` : ""}`);
    return;
  }
  if (r.env !== state.env) {
    state.env = r.env;
    localStorage.setItem("triggerd.env", state.env);
  }
  const app = document.getElementById("app");
  if (!app.firstChild || app.dataset.env !== state.env) {
    app.replaceChildren(shell());
    app.dataset.env = state.env;
  }
  document.getElementById("env").value = state.env;
  const navPage = r.page === "run" ? "runs" : r.page;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.page === navPage) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  cleanup?.();
  cleanup = null;
  const main = document.getElementById("main");
  const view = pages[r.page];
  main.replaceChildren();
  if (!view) {
    main.append(h("h1", {}, "Not found"), h("p", {}, "There is no such page."));
    return;
  }
  try {
    cleanup = (await view(main, r)) ?? null;
  } catch (e) {
    main.append(errorBox(e));
  }
  app.setAttribute("aria-busy", "false");
}

// the skip link focuses the content without touching the hash (the router's)
document.querySelector("a.skip")?.addEventListener("click", (e) => {
  e.preventDefault();
  document.getElementById("main")?.focus();
});

async function start() {
  try {
    const s = await api("/dashboard/api/session");
    Object.assign(state, { csrf: s.csrf, project: s.project, envs: s.envs, features: s.features ?? {} });
    const saved = localStorage.getItem("triggerd.env");
    state.env = s.envs.some((e) => e.slug === saved) ? saved : "dev";
  } catch (e) {
    if (e.status !== 401) toast(String(e.message), true);
    return;
  }
  window.addEventListener("hashchange", route);
  route();
}

start();
