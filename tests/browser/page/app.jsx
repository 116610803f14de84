// tests/browser/page/app.jsx - the page the browser test opens: one run's
// live status and metadata through @trigger.dev/react-hooks useRealtimeRun,
// or (view=stream) one of its realtime streams through useRealtimeStream.
// The query string carries what a real app would pass as props:
// ?run=<runId>&token=<public access token>&api=<triggerd URL>[&view=stream&stream=<key>].
import React from "react";
import { createRoot } from "react-dom/client";
import { useRealtimeRun, useRealtimeStream } from "@trigger.dev/react-hooks";

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

createRoot(document.getElementById("root")).render(q.get("view") === "stream" ? <Stream /> : <Run />);
