// tests/browser/page/chat.jsx - the chat page the browser test opens: AI SDK
// useChat with the real TriggerChatTransport (useTriggerChatTransport from
// @trigger.dev/sdk/chat/react) talking to a chat.agent on triggerd. As a real
// app would, it asks its own server for the session (POST /start-session,
// which runs chat.createStartSessionAction) and for a fresh session token
// when one is refused (POST /token), and keeps what a reload needs in
// localStorage (the app's "database"): the transport's session state and the
// settled messages (a reply still streaming is not saved; useChat's resume
// brings it back through transport.reconnectToStream).
// ?chat=<chatId>&agent=<task id>&api=<triggerd URL>
import React, { useEffect, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import { useChat } from "@ai-sdk/react";
import { useTriggerChatTransport } from "@trigger.dev/sdk/chat/react";

const q = new URLSearchParams(location.search);
const chatId = q.get("chat");
const agent = q.get("agent");
const stored = (what) => JSON.parse(localStorage.getItem(`${what}:${chatId}`) ?? "null");
const store = (what, v) =>
  v == null ? localStorage.removeItem(`${what}:${chatId}`) : localStorage.setItem(`${what}:${chatId}`, JSON.stringify(v));

async function post(path, body) {
  const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

const textOf = (m) => m.parts.map((p) => (p.type === "text" ? p.text : "")).join("");

function Chat() {
  const initialMessages = useMemo(() => stored("messages") ?? [], []);
  const initialSession = useMemo(() => stored("session"), []);
  const transport = useTriggerChatTransport({
    task: agent,
    baseURL: q.get("api"),
    startSession: ({ chatId, clientData }) => post("/start-session", { agent, chatId, clientData }),
    accessToken: async ({ chatId }) => (await post("/token", { chatId })).token,
    sessions: initialSession ? { [chatId]: initialSession } : undefined,
    onSessionChange: (id, session) => id === chatId && store("session", session),
  });
  const { messages, sendMessage, status, error } = useChat({
    id: chatId,
    messages: initialMessages,
    transport,
    resume: initialMessages.length > 0,
  });
  useEffect(() => {
    const busy = status === "streaming" || status === "submitted";
    const settled = busy && messages.at(-1)?.role === "assistant" ? messages.slice(0, -1) : messages;
    store("messages", settled);
  }, [messages, status]);
  const [input, setInput] = useState("");
  return (
    <main>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          sendMessage({ text: input });
          setInput("");
        }}
      >
        <input id="input" value={input} onChange={(e) => setInput(e.target.value)} />
        <button id="send" type="submit">
          Send
        </button>
      </form>
      <ol id="messages">
        {messages.map((m) => (
          <li key={m.id} className={m.role}>
            {textOf(m)}
          </li>
        ))}
      </ol>
      <p id="status">{status}</p>
      <p id="error">{error ? String(error.message ?? error) : ""}</p>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<Chat />);
