// codemode process runner. Runs one program and speaks JSON lines with the host:
//   host -> runner: {"t":"start","paths":[...]}, {"t":"result","id":1,"ok":true,"value":...}
//   runner -> host: {"t":"call","id":1,"path":"a.b","args":{...}}, {"t":"console","level":"log","text":"..."},
//                   {"t":"done","value":...}, {"t":"error","name":"...","message":"...","line":3,"column":5}
// "done" comes once the body has returned and no tool call or timer it started is left.
// The program is `program.mjs` next to this file: `export default async function (tools, console) {...}`.
import { createInterface } from 'node:readline';

const hostProcess = globalThis.process;
const stdout = hostProcess.stdout;
const send = (msg) => stdout.write(JSON.stringify(msg) + '\n');

const pending = new Map();
let nextId = 0;

function format(value) {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    const s = JSON.stringify(value);
    return s === undefined ? String(value) : s;
  } catch {
    return String(value);
  }
}

const sandboxConsole = {};
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  sandboxConsole[level] = (...args) => send({ t: 'console', level, text: args.map(format).join(' ') });
}

function callTool(path, args) {
  let json;
  try {
    json = args === undefined ? null : JSON.parse(JSON.stringify(args));
  } catch (e) {
    return Promise.reject(new TypeError(`tools.${path}: arguments must be JSON-serializable (${e.message})`));
  }
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    send({ t: 'call', id, path, args: json });
  });
}

function buildTools(paths) {
  const root = {};
  for (const path of paths) {
    const segments = path.split('.');
    let node = root;
    for (const seg of segments.slice(0, -1)) {
      node = node[seg] ??= {};
    }
    node[segments[segments.length - 1]] = (args) => callTool(path, args);
  }
  const freeze = (o) => {
    for (const v of Object.values(o)) if (typeof v === 'object') freeze(v);
    return Object.freeze(o);
  };
  return freeze(root);
}

function position(err) {
  const stack = err && typeof err.stack === 'string' ? err.stack : '';
  const m = /program\.mjs:(\d+):(\d+)/.exec(stack);
  // program.mjs has one header line before the program.
  return m ? { line: Number(m[1]) - 1, column: Number(m[2]) } : {};
}

let ended = false;
function end(msg) {
  if (ended) return;
  ended = true;
  send(msg);
  stdout.write('', () => hostProcess.exit(0));
}

function fail(err, suffix = '') {
  const isError = err instanceof Error;
  end({
    t: 'error',
    name: isError ? err.name : 'Error',
    message: (isError ? err.message : `uncaught ${format(err)}`) + suffix,
    ...position(err),
  });
}

// A rejection nothing handles fails the run (as Node.js exits on one), whether the body has
// returned or not.
hostProcess.on('unhandledRejection', (reason) => {
  fail(reason, ' (in a promise the program did not await or catch)');
});

// Timers the program starts are counted, so that the run waits for them as it waits for
// tool calls it did not await: work the program started is never dropped.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const realSetInterval = globalThis.setInterval;
const realClearInterval = globalThis.clearInterval;
const timers = new Set();
globalThis.setTimeout = (fn, ms, ...args) => {
  const handle = realSetTimeout(() => {
    timers.delete(handle);
    try {
      if (typeof fn === 'function') fn(...args);
    } finally {
      whenIdle();
    }
  }, ms);
  timers.add(handle);
  return handle;
};
globalThis.clearTimeout = (handle) => {
  timers.delete(handle);
  realClearTimeout(handle);
  whenIdle();
};
globalThis.setInterval = (fn, ms, ...args) => {
  const handle = realSetInterval(fn, ms, ...args);
  timers.add(handle);
  return handle;
};
globalThis.clearInterval = (handle) => {
  timers.delete(handle);
  realClearInterval(handle);
  whenIdle();
};

// The body's result, sent once no tool call or timer the program started is left.
let result = null;
function whenIdle() {
  // After the microtasks a settled call or a timer set off have run.
  realSetTimeout(() => {
    if (result && pending.size === 0 && timers.size === 0) end(result);
  }, 0);
}

const lines = createInterface({ input: hostProcess.stdin, crlfDelay: Infinity });
let started = false;
lines.on('line', async (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return;
  }
  if (msg.t === 'result') {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.value);
    else p.reject(new Error(msg.error));
    whenIdle();
    return;
  }
  if (msg.t !== 'start' || started) return;
  started = true;
  const tools = buildTools(msg.paths);
  let program;
  try {
    program = (await import(new URL('./program.mjs', import.meta.url).href)).default;
  } catch (e) {
    fail(e);
    return;
  }
  // What the program must not reach. (Not a security boundary: see docs/security.md.)
  for (const name of ['process', 'Buffer', 'fetch', 'WebSocket', 'EventSource', 'require', 'module']) {
    try { delete globalThis[name]; } catch { /* not configurable */ }
  }
  try {
    const value = await program(tools, sandboxConsole);
    let json;
    try {
      json = value === undefined ? null : JSON.parse(JSON.stringify(value));
    } catch (e) {
      fail(new TypeError(`the returned value is not JSON-serializable: ${e.message}`));
      return;
    }
    result = { t: 'done', value: json };
    whenIdle();
  } catch (e) {
    fail(e);
  }
});
