// mermaid.parse on Node without a browser: DOMPurify has no window here, so its hooks
// (used only when rendering SVG) are stubbed; parsing is mermaid's own grammar.
import DOMPurify from "dompurify";
if (typeof DOMPurify.addHook !== "function") DOMPurify.addHook = () => {};
if (typeof DOMPurify.sanitize !== "function") DOMPurify.sanitize = (x) => x;
const { default: mermaid } = await import("mermaid");
let text = "";
process.stdin.on("data", (d) => (text += d));
process.stdin.on("end", async () => {
  const blocks = [...text.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1]);
  console.log("blocks", blocks.length);
  if (!blocks.length) process.exitCode = 1;
  for (const b of blocks) {
    try { const r = await mermaid.parse(b); console.log("ok", r.diagramType); }
    catch (e) { console.log("error", String(e.message || e).split("\n")[0]); process.exitCode = 1; }
  }
});
