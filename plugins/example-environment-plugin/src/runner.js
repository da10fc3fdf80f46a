// The Node side of the example environment plugin: the first stdin line is the program, the
// next ones answer its tool calls; stdout carries console lines, tool calls and the end.
"use strict";
const readline = require("node:readline");
const send = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const pending = new Map();
let nextId = 0;
let started = false;

function toolsObject(paths) {
  const tools = {};
  for (const path of paths) {
    const dot = path.indexOf(".");
    const [ns, name] = [path.slice(0, dot), path.slice(dot + 1)];
    tools[ns] = tools[ns] || {};
    tools[ns][name] = (args) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        send({ type: "call", id, path, arguments: args === undefined ? {} : args });
      });
  }
  return Object.freeze(tools);
}

const text = (args) => args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ");
const console_ = Object.freeze({
  log: (...a) => send({ type: "console", text: text(a) }),
  info: (...a) => send({ type: "console", text: text(a) }),
  warn: (...a) => send({ type: "console", text: text(a) }),
  error: (...a) => send({ type: "console", text: text(a) }),
});

function lineOf(error) {
  // new AsyncFunction puts the body two lines down in `<anonymous>`.
  const match = /<anonymous>:(\d+):\d+/.exec((error && error.stack) || "");
  return match ? Math.max(1, Number(match[1]) - 2) : null;
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const message = JSON.parse(line);
  if (!started) {
    started = true;
    const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
    let program;
    try {
      program = new AsyncFunction("tools", "console", message.javascript);
    } catch (e) {
      send({ type: "error", message: String(e && e.message ? e.message : e), line: null });
      return;
    }
    program(toolsObject(message.tool_paths), console_).then(
      (value) => send({ type: "done", value: value === undefined ? null : value }),
      (e) => send({ type: "error", message: String(e && e.message ? e.message : e), line: lineOf(e) }),
    );
    return;
  }
  const call = pending.get(message.id);
  if (!call) return;
  pending.delete(message.id);
  if ("ok" in message) call.resolve(message.ok);
  else call.reject(new Error(message.error));
});
