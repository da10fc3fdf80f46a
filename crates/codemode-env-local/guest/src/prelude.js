// The sandbox side of the bridge. Host functions: __cm_start(path, argsJson) -> id,
// __cm_console(level, text). The host loop calls __cm.settle(id, ok, json) when a call ends.
globalThis.__cm = (() => {
  const start = globalThis.__cm_start;
  const log = globalThis.__cm_console;
  delete globalThis.__cm_start;
  delete globalThis.__cm_console;
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

  function call(path, args) {
    let json;
    try {
      json = args === undefined ? 'null' : JSON.stringify(args);
    } catch (e) {
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

  function settle(id, ok, json) {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    const value = JSON.parse(json);
    if (ok) p.resolve(value);
    else p.reject(new Error(value));
  }

  function run(program, paths) {
    program(buildTools(paths), console).then(
      (value) => {
        try {
          const json = value === undefined ? 'null' : JSON.stringify(value);
          state.json = json === undefined ? 'null' : json;
          state.ok = true;
        } catch (e) {
          state.name = 'TypeError';
          state.message = `the returned value is not JSON-serializable: ${e.message}`;
        }
        state.done = true;
      },
      (error) => {
        const isError = error instanceof Error;
        state.name = isError ? error.name : 'Error';
        state.message = isError ? error.message : `uncaught ${format(error)}`;
        state.stack = isError && typeof error.stack === 'string' ? error.stack : '';
        state.done = true;
      },
    );
  }

  return Object.freeze({ run, settle, state, pending: () => pending.size });
})();
