// A local LLM provider stand-in (OpenAI and Anthropic wire shapes) on 127.0.0.1:
// checks keys (Bearer or x-api-key), answers chat completions, messages,
// streams and multipart transcriptions, and can fail: "503", "hang" (never
// answers), "error-event" (a 200 stream that opens with an error event), "cut"
// (a stream cut after its first event).
// A stand-in for the provider only: the SDKs, aigw and HTTP are real.
import { createServer } from "node:http";

const sse = (events) => events.map(([name, data]) =>
  (name ? `event: ${name}\n` : "") + `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`).join("");

export async function startProvider(name, { keys = [], mode = "ok" } = {}) {
  const state = {
    name, mode, keys: new Set(keys), calls: 0, unauthorized: 0, seen: [], sockets: new Set(),
    url: "", server: null,
    close: () => new Promise((resolve) => {
      for (const s of state.sockets) s.destroy();
      state.server.close(() => resolve());
    }),
  };
  const server = createServer(async (req, res) => {
    state.calls++;
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks);
    const key = req.headers["x-api-key"] ?? (req.headers.authorization ?? "").replace(/^Bearer /, "");
    state.seen.push({ path: req.url, headers: req.headers, body: raw.toString("utf8") });
    if (state.mode === "hang") return; // never answers (the socket is destroyed on close)
    if (!state.keys.has(key)) {
      state.unauthorized++;
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "invalid key", type: "authentication_error" } }));
      return;
    }
    if (state.mode === "503") {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: `${name} is down`, type: "api_error" } }));
      return;
    }
    const anthropic = req.url.endsWith("/messages");
    if (req.url.endsWith("/audio/transcriptions")) {
      const form = await new Request("http://x", { method: "POST", headers: { "content-type": req.headers["content-type"] }, body: raw }).formData();
      const file = form.get("file");
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ text: `${name}:${form.get("model")}:${file.name}:${file.size}` }));
      return;
    }
    const body = raw.length ? JSON.parse(raw.toString("utf8")) : {};
    if (body.stream) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      if (state.mode === "error-event") {
        res.end(sse([[anthropic ? "error" : "", { type: "error", error: { type: "overloaded_error", message: "busy" } }]]));
        return;
      }
      const words = [`${name} `, "says ", "hi"];
      if (state.mode === "cut") { // the first event, then the connection drops
        res.write(sse([["", { id: "c1", object: "chat.completion.chunk", created: 1, model: body.model, choices: [{ index: 0, delta: { content: words[0] }, finish_reason: null }] }]]));
        setTimeout(() => res.socket.destroy(), 20);
        return;
      }
      if (anthropic) {
        res.end(sse([
          ["message_start", { type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", model: body.model, content: [], stop_reason: null, usage: { input_tokens: 1, output_tokens: 0 } } }],
          ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }],
          ...words.map((w) => ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: w } }]),
          ["content_block_stop", { type: "content_block_stop", index: 0 }],
          ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 3 } }],
          ["message_stop", { type: "message_stop" }],
        ]));
      } else {
        res.end(sse([
          ...words.map((w) => ["", { id: "c1", object: "chat.completion.chunk", created: 1, model: body.model, choices: [{ index: 0, delta: { content: w }, finish_reason: null }] }]),
          ["", "[DONE]"],
        ]));
      }
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(anthropic
      ? { id: "msg_1", type: "message", role: "assistant", model: body.model, content: [{ type: "text", text: `${name} says hi` }], stop_reason: "end_turn", usage: { input_tokens: 1, output_tokens: 3 } }
      : { id: "c1", object: "chat.completion", created: 1, model: body.model, choices: [{ index: 0, message: { role: "assistant", content: `${name} says hi` }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 } }));
  });
  server.on("connection", (s) => {
    state.sockets.add(s);
    s.on("close", () => state.sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.server = server;
  state.url = `http://127.0.0.1:${server.address().port}`;
  return state;
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}
