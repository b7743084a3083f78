#!/usr/bin/env node
// serve.mjs serves the chat demo page on 127.0.0.1: index.html, app.js,
// style.css, the browser build of @microsoft/signalr from e2e/node_modules
// (installed by `cd e2e && npm ci`), and config.js, which tells the page
// where the handler is. Node built-ins only.
//
//   node demo/serve.mjs [--port 8080] [--api http://127.0.0.1:7071/api]
//
// DEMO_PORT and DEMO_API stand in for the flags. The page itself also takes
// ?api=, ?hub= and ?targets= in its address.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const signalrDir = join(here, '..', 'e2e', 'node_modules', '@microsoft', 'signalr', 'dist', 'browser');

const usage = `usage: node demo/serve.mjs [--port PORT] [--api URL]
  --port PORT  port on 127.0.0.1 (default $DEMO_PORT, else 8080; 0 picks a free one)
  --api URL    the handler's base URL, where /negotiate and /messages are
               (default $DEMO_API, else http://127.0.0.1:7071/api)`;

// The only paths served: nothing else on disk is reachable.
const files = {
  '/': { file: join(here, 'index.html'), type: 'text/html; charset=utf-8' },
  '/index.html': { file: join(here, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { file: join(here, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: join(here, 'style.css'), type: 'text/css; charset=utf-8' },
  '/signalr.min.js': { file: join(signalrDir, 'signalr.min.js'), type: 'text/javascript; charset=utf-8' },
  '/signalr.min.js.map': { file: join(signalrDir, 'signalr.min.js.map'), type: 'application/json' },
};

// The page may only run its own scripts; it talks to the handler and to
// whatever service URL negotiate returns, which can be any host.
const securityHeaders = {
  'content-security-policy': "default-src 'self'; connect-src 'self' http: https: ws: wss:; "
    + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** options reads the flags and the environment, or throws a usable error. */
function options(argv, env) {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, api: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return { help: true };
  const portText = values.port ?? env.DEMO_PORT ?? '8080';
  const portName = values.port !== undefined ? '--port' : 'DEMO_PORT';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new Error(`invalid ${portName} ${JSON.stringify(portText)}: use a port from 1 to 65535, or 0 for a free one`);
  }
  const api = values.api ?? env.DEMO_API ?? 'http://127.0.0.1:7071/api';
  const apiName = values.api !== undefined ? '--api' : 'DEMO_API';
  let u;
  try {
    u = new URL(api);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash) {
    throw new Error(`invalid ${apiName} ${JSON.stringify(api)}: give the handler's base URL without a query, such as http://127.0.0.1:7071/api`);
  }
  return { port, api: api.replace(/\/+$/, '') };
}

/** handle answers one request from the allow-list of files. */
async function handle(req, res, config) {
  const path = new URL(req.url, 'http://localhost').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...securityHeaders, allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    res.end('only GET and HEAD are served\n');
    return;
  }
  let body;
  let type;
  if (path === '/favicon.ico') {
    // None: an empty answer keeps the browser from logging a 404.
    res.writeHead(204, securityHeaders);
    res.end();
    return;
  }
  if (path === '/config.js') {
    // JSON is a JavaScript expression; escaping "<" keeps it inert anywhere.
    body = `window.DEMO_CONFIG = ${JSON.stringify(config).replaceAll('<', '\\u003c')};\n`;
    type = 'text/javascript; charset=utf-8';
  } else if (Object.hasOwn(files, path)) {
    try {
      body = await readFile(files[path].file);
    } catch (err) {
      const hint = path.startsWith('/signalr') ? ' (run `cd e2e && npm ci`)' : '';
      res.writeHead(500, { ...securityHeaders, 'content-type': 'text/plain; charset=utf-8' });
      res.end(`cannot read ${path}${hint}\n`);
      console.error(`serve: ${path}: ${err.message}${hint}`);
      return;
    }
    type = files[path].type;
  } else {
    res.writeHead(404, { ...securityHeaders, 'content-type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
    return;
  }
  res.writeHead(200, { ...securityHeaders, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function main() {
  let opts;
  try {
    opts = options(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`serve: ${err.message}\n${usage}`);
    process.exit(2);
  }
  if (opts.help) {
    console.log(usage);
    return;
  }
  try {
    await readFile(files['/signalr.min.js'].file);
  } catch {
    console.error(`serve: the SignalR browser client is missing at ${files['/signalr.min.js'].file}: run \`cd e2e && npm ci\` first`);
    process.exit(1);
  }
  const config = { api: opts.api };
  const server = createServer((req, res) => {
    handle(req, res, config).catch((err) => {
      console.error(`serve: ${req.method} ${req.url}: ${err.message}`);
      res.destroy();
    });
  });
  server.on('error', (err) => {
    console.error(`serve: cannot listen on 127.0.0.1:${opts.port} (--port, DEMO_PORT): ${err.message}`);
    process.exit(1);
  });
  server.listen(opts.port, '127.0.0.1', () => {
    const { port } = server.address();
    console.log(`demo page: http://127.0.0.1:${port}/ (handler ${opts.api})`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    // Keep-alive connections would hold close open.
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
