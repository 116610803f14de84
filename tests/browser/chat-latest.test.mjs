// Browser chat page against SDK + `trigger.dev dev` 4.8.3 (see chat.mjs): cli.mjs reads TRIGGER_SDK when it loads.
process.env.TRIGGER_SDK = "latest";
await import("./chat.mjs");
