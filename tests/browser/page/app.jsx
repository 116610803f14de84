// tests/browser/page/app.jsx - the page the browser test opens: one run's
// live status and metadata through @trigger.dev/react-hooks useRealtimeRun.
// The query string carries what a real app would pass as props:
// ?run=<runId>&token=<public access token>&api=<triggerd URL>.
import React from "react";
import { createRoot } from "react-dom/client";
import { useRealtimeRun } from "@trigger.dev/react-hooks";

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

createRoot(document.getElementById("root")).render(<Run />);
