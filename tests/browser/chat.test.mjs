// Browser chat page against SDK + `trigger.dev dev` 4.5.0 (see chat.mjs).
import "./chat.mjs";
