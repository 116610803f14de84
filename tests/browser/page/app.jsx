// tests/browser/page/app.jsx - the page the browser test opens: one run's
// live status and metadata through @trigger.dev/react-hooks useRealtimeRun,
// or (view=stream) one of its realtime streams through useRealtimeStream,
// or (view=tag / view=batch) every run of a tag or a batch through
// useRealtimeRunsWithTag / useRealtimeBatch. The query string carries what a
// real app would pass as props: ?token=<public access token>&api=<triggerd URL>
// and run=<runId>[&view=stream&stream=<key>] | view=tag&tag=<t> | view=batch&batch=<id>.
import React from "react";
import { createRoot } from "react-dom/client";
import { useRealtimeBatch, useRealtimeRun, useRealtimeRunsWithTag, useRealtimeStream } from "@trigger.dev/react-hooks";

const q = new URLSearchParams(location.search);

function Run() {
  const { run, error } = useRealtimeRun(q.get("run"), {
    accessToken: q.get("token"),
    baseURL: q.get("api"),
  });
  return (
    <main>
      <p id="status">{run ? run.status : "loading"}</p>
      <p id="metadata">{run ? JSON.stringify(run.metadata ?? null) : ""}</p>
      <p id="finished">{run?.finishedAt ? "yes" : "no"}</p>
      <p id="error">{error ? String(error.message ?? error) : ""}</p>
    </main>
  );
}

function Stream() {
  const { parts, error } = useRealtimeStream(q.get("run"), q.get("stream"), {
    accessToken: q.get("token"),
    baseURL: q.get("api"),
    timeoutInSeconds: 30,
  });
  return (
    <main>
      <p id="text">{parts.join("")}</p>
      <p id="count">{parts.length}</p>
      <p id="error">{error ? String(error.message ?? error) : ""}</p>
    </main>
  );
}

/* Runs as "id=STATUS" lines, sorted by id, so the test can compare them. */
function RunList({ runs, error }) {
  const rows = [...runs].sort((a, b) => (a.id < b.id ? -1 : 1)).map((r) => `${r.id}=${r.status}`);
  return (
    <main>
      <pre id="runs">{rows.join("\n")}</pre>
      <p id="count">{runs.length}</p>
      <p id="error">{error ? String(error.message ?? error) : ""}</p>
    </main>
  );
}

function Tag() {
  const { runs, error } = useRealtimeRunsWithTag(q.get("tag"), {
    accessToken: q.get("token"),
    baseURL: q.get("api"),
  });
  return <RunList runs={runs} error={error} />;
}

function Batch() {
  const { runs, error } = useRealtimeBatch(q.get("batch"), {
    accessToken: q.get("token"),
    baseURL: q.get("api"),
  });
  return <RunList runs={runs} error={error} />;
}

const views = { stream: Stream, tag: Tag, batch: Batch };
const View = views[q.get("view")] ?? Run;
createRoot(document.getElementById("root")).render(<View />);
