// The sandbox side of the bridge. Host functions: __cm_start(path, argsJson) -> id,
// __cm_console(level, text). The host loop calls __cm.settle(id, ok, json) when a call ends.
globalThis.__cm = (() => {
  const start = globalThis.__cm_start;
  const log = globalThis.__cm_console;
  const startTimer = globalThis.__cm_timer;
  const cancelTimer = globalThis.__cm_cancel;
  delete globalThis.__cm_start;
  delete globalThis.__cm_console;
  delete globalThis.__cm_timer;
  delete globalThis.__cm_cancel;
  const pending = new Map();
  const state = { done: false, ok: false, json: 'null', name: '', message: '', stack: '' };

  function format(v) {
    if (typeof v === 'string') return v;
    if (v instanceof Error) return `${v.name}: ${v.message}`;
    try {
      const s = JSON.stringify(v);
      return s === undefined ? String(v) : s;
    } catch {
      return String(v);
    }
  }

  const levels = ['log', 'info', 'warn', 'error', 'debug'];
  const console = {};
  levels.forEach((level, i) => {
    console[level] = (...args) => log(i, args.map(format).join(' '));
  });
  Object.freeze(console);

  let maxBytes = Infinity;

  // JSON.stringify that gives up as soon as the text would pass `maxBytes` (so a huge value
  // fails fast instead of filling memory).
  function stringify(value) {
    let size = 0;
    const limit = maxBytes;
    const text = JSON.stringify(value, function (key, v) {
      size += key.length + 4;
      if (typeof v === 'string') size += v.length;
      if (size > limit) throw new RangeError(`a value crossing the bridge is larger than ${limit} bytes`);
      return v;
    });
    return text === undefined ? 'null' : text;
  }

  function call(path, args) {
    let json;
    try {
      json = args === undefined ? 'null' : stringify(args);
    } catch (e) {
      if (e instanceof RangeError) return Promise.reject(new RangeError(`tools.${path}: ${e.message}`));
      return Promise.reject(new TypeError(`tools.${path}: arguments must be JSON-serializable (${e.message})`));
    }
    const id = start(path, json);
    return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  }

  function buildTools(paths) {
    const root = {};
    for (const path of paths) {
      const segments = path.split('.');
      let node = root;
      for (const seg of segments.slice(0, -1)) node = node[seg] ??= {};
      node[segments[segments.length - 1]] = (args) => call(path, args);
    }
    const freeze = (o) => {
      for (const v of Object.values(o)) if (typeof v === 'object') freeze(v);
      return Object.freeze(o);
    };
    return freeze(root);
  }

  // Timers are host sleeps that finish like tool calls (they count as pending work, so a
  // run waits for them), without counting against max_tool_calls. An interval is a chain
  // of timers under the first one's id.
  const intervals = new Map();
  function setTimeout(fn, ms, ...args) {
    const id = startTimer(Math.max(0, Number(ms) || 0));
    pending.set(id, { resolve: () => { if (typeof fn === 'function') fn(...args); }, reject: () => {} });
    return id;
  }
  function clearTimeout(id) {
    if (pending.delete(id)) cancelTimer(id);
  }
  function setInterval(fn, ms, ...args) {
    const handle = { current: 0 };
    const tick = () => {
      handle.current = setTimeout(() => { tick(); if (typeof fn === 'function') fn(...args); }, ms);
    };
    tick();
    intervals.set(handle.current, handle);
    return handle.current;
  }
  function clearInterval(id) {
    const handle = intervals.get(id);
    if (!handle) return clearTimeout(id);
    intervals.delete(id);
    clearTimeout(handle.current);
  }
  for (const [name, fn] of Object.entries({ setTimeout, clearTimeout, setInterval, clearInterval })) {
    Object.defineProperty(globalThis, name, { value: fn, writable: true, configurable: true, enumerable: false });
  }

  function settle(id, ok, json) {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    const value = JSON.parse(json);
    if (ok) p.resolve(value);
    else p.reject(new Error(value));
  }

  // Math.random as xoshiro128**, seeded by the host for every run: the engine is restored
  // from a snapshot, so QuickJS's own generator would replay one sequence in every run.
  let s0 = 1, s1 = 2, s2 = 3, s3 = 4;
  const rotl = (x, k) => (x << k) | (x >>> (32 - k));
  function next() {
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return r;
  }
  // The host passes four well-mixed words (splitmix64 of its own seed): no warm-up needed.
  function reseed(seed) {
    [s0, s1, s2, s3] = seed;
    if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  }
  Object.defineProperty(Math, 'random', {
    value: function random() {
      return ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });

  // Promises rejected with no handler yet (QuickJS's rejection tracker reports them, and
  // again when a handler is attached later). One left after the job queue drains is a
  // failure nothing will catch: the run fails with it, as Node.js exits on one.
  const rejections = new Map();
  function track(promise, reason, handled) {
    if (handled) rejections.delete(promise);
    else rejections.set(promise, reason);
  }
  function describe(error) {
    const isError = error instanceof Error;
    return {
      name: isError ? error.name : 'Error',
      message: isError ? error.message : `uncaught ${format(error)}`,
      stack: isError && typeof error.stack === 'string' ? error.stack : '',
    };
  }
  function unhandled() {
    for (const reason of rejections.values()) return describe(reason);
    return undefined;
  }

  function run(program, paths, limit, seed) {
    maxBytes = limit;
    reseed(seed);
    program(buildTools(paths), console).then(
      (value) => {
        try {
          state.json = value === undefined ? 'null' : stringify(value);
          state.ok = true;
        } catch (e) {
          state.name = e instanceof RangeError ? 'RangeError' : 'TypeError';
          state.message = e instanceof RangeError ? e.message : `the returned value is not JSON-serializable: ${e.message}`;
        }
        state.done = true;
      },
      (error) => {
        Object.assign(state, describe(error));
        state.done = true;
      },
    );
  }

  return Object.freeze({ run, settle, track, unhandled, state, pending: () => pending.size });
})();
