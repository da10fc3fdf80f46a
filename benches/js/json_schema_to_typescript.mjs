// The npm peer: json-schema-to-typescript over the input schemas of every LiveMCPBench tool.
// Prints one JSON line: {"runs": N, "median_ms": M}.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../tests/npm/package.json', import.meta.url));
const { compile } = require('json-schema-to-typescript');

const [toolsPath, runsArg] = process.argv.slice(2);
const servers = JSON.parse(readFileSync(toolsPath, 'utf8'));
const schemas = [];
for (const server of servers) {
  for (const [name, entry] of Object.entries(server.tools)) {
    for (const tool of entry.tools) schemas.push([`${name}_${tool.name}`, tool.inputSchema ?? { type: 'object' }]);
  }
}
const runs = Number(runsArg ?? 5);
const times = [];
for (let r = 0; r < runs; r++) {
  const start = performance.now();
  for (const [name, schema] of schemas) {
    try {
      await compile(structuredClone(schema), name, { bannerComment: '', additionalProperties: false, format: false });
    } catch {
      // a schema the peer cannot handle still costs its time
    }
  }
  times.push(performance.now() - start);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ runs, tools: schemas.length, median_ms: times[Math.floor(times.length / 2)] }));
