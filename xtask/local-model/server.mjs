// A small OpenAI-compatible server over node-llama-cpp (prebuilt llama.cpp), for
// `cargo xtask local-model`: GET /v1/models and POST /v1/chat/completions, one request at a
// time, the chat template from the GGUF's metadata, and the evaluated prompt prefix reused
// across requests to the same model. Each model keeps a few contexts, one per system
// prompt seen last (plan, implement, filter...), so a plan request between two programs does
// not throw away the programs' long shared prefix (rules, worked example).
//
// Sampling: temperature 0 unless asked, no repeat penalty unless asked: a request may set
// `repeat_penalty` (Ollama's default is 1.1), `repeat_last_n` (64), `frequency_penalty` and
// `presence_penalty`, as llama.cpp's server takes them.
//
//   node server.mjs --port 8089 --threads 2 --model NAME=PATH [--model NAME=PATH ...]
//
// Binds to 127.0.0.1 only. Prints `listening on http://127.0.0.1:PORT/v1` when ready.
import http from 'node:http';
import { getLlama, LlamaChat } from 'node-llama-cpp';

function parseArgs(argv) {
  const args = { port: 8089, threads: 2, contextSize: 8192, models: [] };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--port') args.port = Number(value);
    else if (flag === '--threads') args.threads = Number(value);
    else if (flag === '--context') args.contextSize = Number(value);
    else if (flag === '--model') {
      const at = value.indexOf('=');
      if (at < 1) throw new Error(`--model takes NAME=PATH, got ${value}`);
      args.models.push({ name: value.slice(0, at), path: value.slice(at + 1) });
    } else throw new Error(`unknown argument ${flag}`);
    i++;
  }
  if (args.models.length === 0) throw new Error('give at least one --model NAME=PATH');
  return args;
}

const args = parseArgs(process.argv.slice(2));
const llama = await getLlama({ gpu: false, build: 'never', progressLogs: false, logLevel: 'error' });
const models = new Map();
for (const { name, path } of args.models) {
  const model = await llama.loadModel({ modelPath: path });
  models.set(name, { model, slots: [] });
}

// How many contexts (each with its own evaluated prefix) a model keeps.
const SLOTS = 3;

// The chat whose context last saw the same system prompt; else a new context while there
// are fewer than SLOTS, else the least recently used one.
async function chatFor(entry, chatHistory) {
  const key = chatHistory[0]?.type === 'system' ? chatHistory[0].text : '';
  let at = entry.slots.findIndex((slot) => slot.key === key);
  let slot;
  if (at >= 0) {
    [slot] = entry.slots.splice(at, 1);
  } else if (entry.slots.length < SLOTS) {
    const context = await entry.model.createContext({ contextSize: args.contextSize, threads: args.threads });
    slot = { key, chat: new LlamaChat({ contextSequence: context.getSequence() }) };
  } else {
    slot = entry.slots.shift();
    slot.key = key;
  }
  entry.slots.push(slot);
  return slot.chat;
}

// OpenAI messages to node-llama-cpp's chat history (the answer to write is not in it).
function history(messages) {
  return messages.map((m) => {
    const text = typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text ?? '').join('');
    if (m.role === 'system') return { type: 'system', text };
    if (m.role === 'assistant') return { type: 'model', response: [text] };
    return { type: 'user', text };
  });
}

function repeatPenalty(body) {
  const penalty = body.repeat_penalty ?? 1;
  const frequencyPenalty = body.frequency_penalty ?? 0;
  const presencePenalty = body.presence_penalty ?? 0;
  if (penalty === 1 && frequencyPenalty === 0 && presencePenalty === 0) return false;
  return { penalty, lastTokens: body.repeat_last_n ?? 64, frequencyPenalty, presencePenalty, penalizeNewLine: false };
}

let queue = Promise.resolve();
function oneAtATime(work) {
  const run = queue.then(work, work);
  queue = run.catch(() => {});
  return run;
}

async function complete(body) {
  const entry = models.get(body.model) ?? (models.size === 1 ? [...models.values()][0] : undefined);
  if (!entry) {
    return [404, { error: { message: `unknown model ${body.model}; loaded: ${[...models.keys()].join(', ')}`, type: 'invalid_request_error' } }];
  }
  const started = Date.now();
  const chatHistory = history(body.messages ?? []);
  const stop = body.stop === undefined ? [] : [].concat(body.stop);
  const chat = await chatFor(entry, chatHistory);
  const result = await chat.generateResponse(chatHistory, {
    maxTokens: body.max_tokens ?? body.max_completion_tokens ?? 1024,
    temperature: body.temperature ?? 0,
    seed: body.seed ?? 0,
    customStopTriggers: stop.length > 0 ? stop : undefined,
    repeatPenalty: repeatPenalty(body),
  });
  const promptTokens = chatHistory.reduce((n, item) => n + entry.model.tokenize(item.text ?? item.response.join('')).length, 0);
  const completionTokens = entry.model.tokenize(result.response).length;
  const finish = result.metadata.stopReason === 'maxTokens' ? 'length' : 'stop';
  process.stderr.write(
    `${body.model}: ${promptTokens} prompt + ${completionTokens} completion tokens in ${((Date.now() - started) / 1000).toFixed(1)} s (${finish})\n`,
  );
  return [200, {
    id: `chatcmpl-${started}`,
    object: 'chat.completion',
    created: Math.floor(started / 1000),
    model: body.model,
    choices: [{ index: 0, message: { role: 'assistant', content: result.response }, finish_reason: finish }],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  }];
}

const server = http.createServer((req, res) => {
  const reply = (status, value) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  if (req.method === 'GET' && req.url === '/v1/models') {
    return reply(200, { object: 'list', data: [...models.keys()].map((id) => ({ id, object: 'model', owned_by: 'local' })) });
  }
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    return reply(404, { error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' } });
  }
  let text = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => { text += chunk; });
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(text);
    } catch (e) {
      return reply(400, { error: { message: `the body is not JSON: ${e.message}`, type: 'invalid_request_error' } });
    }
    oneAtATime(() => complete(body)).then(
      ([status, value]) => reply(status, value),
      (e) => reply(500, { error: { message: String(e?.message ?? e), type: 'server_error' } }),
    );
  });
});

server.listen(args.port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}/v1`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
