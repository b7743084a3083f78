// Harness of the end-to-end tests: starts the stand-in (bin/emulator) and the
// handler (bin/handler) as processes on loopback, connects real
// @microsoft/signalr clients through the handler's negotiate, and stops
// everything after each test, printing the processes' logs when it fails.
//
// scripts/e2e.sh builds the binaries into $E2E_BIN and runs the tests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { HubConnectionBuilder, HttpTransportType, LogLevel } from '@microsoft/signalr';

export const HUB = 'chat';
export const USER_HEADER = 'x-ms-signalr-userid';
// The method name the tests send to and clients listen on.
export const TARGET = 'newMessage';

/** bin returns the path of a binary that scripts/e2e.sh built. */
export function bin(name) {
  const dir = process.env.E2E_BIN;
  if (!dir) {
    throw new Error('E2E_BIN is not set: run the suite with `bash scripts/e2e.sh`, which builds bin/handler and bin/emulator into it');
  }
  return join(dir, name);
}

/** freePort finds a loopback port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** parseEnvFile reads the emulator's -env-file: shell-quoted KEY='value' lines. */
export function parseEnvFile(text) {
  const env = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)='(.*)'$/.exec(line);
    if (!m) throw new Error(`env file line not in KEY='value' form: ${JSON.stringify(line)}`);
    env[m[1]] = m[2].replaceAll(`'\\''`, `'`);
  }
  return env;
}

// Every process and directory any test started or made, so that none
// outlives the test file even when the runner ends it early (a test that
// timed out never reaches its cleanup).
const running = new Set();
const dirs = new Set();
process.on('exit', () => {
  for (const p of running) p.child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Proc is a child process whose output is kept in memory. */
export class Proc {
  constructor(name, file, args, { env, cwd }) {
    this.name = name;
    this.output = '';
    this.child = spawn(file, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(this);
    const keep = (chunk) => { this.output += chunk; };
    this.child.stdout.setEncoding('utf8').on('data', keep);
    this.child.stderr.setEncoding('utf8').on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => { this.output += `\n[spawn failed: ${err.message}]`; });
      this.child.on('close', (code, signal) => {
        running.delete(this);
        this.exitCode = code;
        this.exitSignal = signal;
        resolve({ code, signal });
      });
    });
  }

  get alive() { return this.exitCode === undefined && this.exitSignal === undefined; }

  /** stop asks the process to end (SIGTERM), and kills it after 5 s. */
  async stop() {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }

  /** lines returns the output lines, JSON ones parsed (the handler logs JSON). */
  jsonLines() {
    const out = [];
    for (const line of this.output.split('\n')) {
      if (!line.startsWith('{')) continue;
      try { out.push(JSON.parse(line)); } catch { /* a half-written line */ }
    }
    return out;
  }
}

/** until polls cond every 20 ms until it returns truthy, or fails after ms. */
export async function until(cond, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Stack is one stand-in and one handler, and the clients connected through
 * them. Create it with withStack.
 */
export class Stack {
  constructor(dir, log) {
    this.dir = dir;
    this.procs = [];
    this.clients = [];
    this.clientLog = log;
  }

  /**
   * startEmulator runs bin/emulator with the flags and -env-file, waits for
   * the env file and returns its values.
   */
  async startEmulator(flags = []) {
    const envFile = join(this.dir, 'emulator.env');
    const p = new Proc('emulator', bin('emulator'), ['-v', ...flags, '-env-file', envFile],
      { env: { PATH: process.env.PATH }, cwd: this.dir });
    this.procs.push(p);
    this.emulator = p;
    await until(async () => {
      if (!p.alive) throw new Error(`the emulator exited (${p.exitCode ?? p.exitSignal}) before writing its env file`);
      return stat(envFile).then(() => true, () => false);
    }, 10000, 'the emulator env file');
    this.emulatorEnv = parseEnvFile(await readFile(envFile, 'utf8'));
    this.serviceURL = this.emulatorEnv.AzureSignalRConnectionString__serviceUri;
    return this.emulatorEnv;
  }

  /**
   * handlerEnv is what the handler gets: only the stand-in's env file, the
   * test settings and the overrides (null removes a key), never the
   * caller's own environment, so no AZURE_* variable can send a credential
   * beyond loopback.
   */
  handlerEnv(port, overrides = {}) {
    const env = {
      PATH: process.env.PATH,
      ...this.emulatorEnv,
      SIGNALR_HUBS: HUB,
      SIGNALR_USERID_HEADER: USER_HEADER,
      FUNCTIONS_CUSTOMHANDLER_PORT: String(port),
    };
    for (const [k, v] of Object.entries(overrides)) {
      if (v === null || v === undefined) delete env[k];
      else env[k] = String(v);
    }
    // Without it, a managed identity credential probes 169.254.169.254.
    if (!env.IDENTITY_ENDPOINT?.startsWith('http://127.0.0.1:')) {
      throw new Error('IDENTITY_ENDPOINT must point at the stand-in');
    }
    return env;
  }

  /**
   * startHandler runs bin/handler with handlerEnv and waits until GET /
   * answers, as the Functions host does. With wait false it returns at once
   * (for handlers expected to refuse their settings). port, when given, is
   * where it listens (an upstream rule names it before the handler starts);
   * program is another binary scripts/e2e.sh built, such as the chat example.
   */
  async startHandler(overrides = {}, { wait = true, port, program = 'handler' } = {}) {
    port ??= await freePort();
    const p = new Proc(program, bin(program), [], { env: this.handlerEnv(port, overrides), cwd: this.dir });
    this.procs.push(p);
    this.handler = p;
    this.url = `http://127.0.0.1:${port}`;
    if (!wait) return p;
    await until(async () => {
      if (!p.alive) throw new Error(`the handler exited (${p.exitCode ?? p.exitSignal}) before it was ready`);
      try {
        const r = await fetch(`${this.url}/`);
        await r.arrayBuffer();
        return r.status === 200;
      } catch {
        return false;
      }
    }, 15000, 'the handler to answer GET /');
    return p;
  }

  /**
   * startHost puts bin/funchost, the stand-in of the Functions host, in
   * front of the running handler: it reads the repository's host.json and
   * functions/<name>/function.json, waits for the handler's GET /, and hands
   * each request on /api to the handler in the mode the host picks.
   * proxying 'on' or 'off' overrides host.json's enableProxyingHttpRequest.
   * From then on the tests' requests and clients go through it. Start the
   * handler with FUNCTIONS_WORKER_RUNTIME=custom, as the host does.
   */
  async startHost({ port, proxying = '' } = {}) {
    port ??= await freePort();
    const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
    const args = ['-app', repo, '-listen', `127.0.0.1:${port}`, '-worker', this.url];
    if (proxying) args.push('-proxying', proxying);
    const p = new Proc('funchost', bin('funchost'), args, { env: { PATH: process.env.PATH }, cwd: this.dir });
    this.procs.push(p);
    this.host = p;
    const ready = await until(() => {
      if (!p.alive) throw new Error(`the host stand-in exited (${p.exitCode ?? p.exitSignal}) before listening`);
      return p.jsonLines().find((l) => l.listening);
    }, 15000, 'the host stand-in to listen');
    this.handlerURL = this.url;
    this.url = ready.listening;
    this.modes = ready.modes;
    return p;
  }

  /** invocations are the host stand-in's records of finished invocations of the function. */
  invocations(fn) {
    return this.host.jsonLines().filter((l) => l.function === fn);
  }

  /** start runs the stand-in with emulatorFlags, then the handler with handlerEnv. */
  async start({ emulatorFlags = [], handlerEnv = {} } = {}) {
    await this.startEmulator(emulatorFlags);
    await this.startHandler(handlerEnv);
    return this;
  }

  /** post sends JSON to a handler route and returns the status and parsed body. */
  async post(path, body, headers = {}) {
    const r = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: r.status, headers: r.headers, text, json };
  }

  /** negotiate calls the handler's negotiate as a client's first request does. */
  negotiate(user) {
    return this.post('/api/negotiate?negotiateVersion=1', undefined, user ? { [USER_HEADER]: user } : {});
  }

  /** send posts SignalRMessage objects to /api/messages and expects 202. */
  async send(messages) {
    const r = await this.post('/api/messages', messages);
    if (r.status !== 202) throw new Error(`POST /api/messages answered ${r.status}: ${r.text}`);
    return r;
  }

  /** group posts SignalRGroupAction objects to /api/groups and expects 202. */
  async group(actions) {
    const r = await this.post('/api/groups', actions);
    if (r.status !== 202) throw new Error(`POST /api/groups answered ${r.status}: ${r.text}`);
    return r;
  }

  /**
   * connect starts a real SignalR client for the user through the handler,
   * speaking protocol when given (the JSON protocol otherwise).
   */
  async connect(user, { hub, protocol } = {}) {
    const base = hub ? `${this.url}/api?hub=${encodeURIComponent(hub)}` : `${this.url}/api`;
    return this.startClient(new Client(this, user, base, { protocol }));
  }

  /**
   * connectWithToken starts a client straight at the stand-in with a token
   * from an earlier negotiate, as a client holding it would reconnect.
   */
  connectWithToken(info, label) {
    return this.startClient(new Client(this, label, info.url, { headers: {}, accessTokenFactory: () => info.accessToken }));
  }

  async startClient(c) {
    this.clients.push(c);
    await c.conn.start();
    return c;
  }

  /** logs are the handler's and the stand-in's output and the clients' logs. */
  logs() {
    const parts = this.procs.map((p) => `--- ${p.name} (exit ${p.exitCode ?? p.exitSignal ?? 'running'}) ---\n${p.output.trimEnd()}`);
    if (this.clientLog.length) parts.push(`--- signalr clients ---\n${this.clientLog.join('\n')}`);
    return parts.join('\n');
  }

  /** handlerLog returns the handler's JSON log records. */
  handlerLog() { return this.handler.jsonLines(); }

  /**
   * logRecord waits for the handler's log record of the level under the
   * correlation id: the log reaches us through a pipe, maybe after the reply.
   */
  logRecord(correlationId, level) {
    return until(() => this.handlerLog().find((l) => l.invocationId === correlationId && l.level === level),
      2000, `a ${level} log record with invocationId ${correlationId}`);
  }

  /**
   * assertNoSecrets checks that the handler's output carries none of the
   * stand-in's secrets (its access key, the managed identity header) nor
   * any of the extra values, such as a client secret or client tokens.
   */
  assertNoSecrets(extra = []) {
    const key = /AccessKey=([^;]+)/.exec(this.emulatorEnv.SIGNALR_EMULATOR_CONNECTION_STRING ?? '')?.[1];
    const secrets = [key, this.emulatorEnv.IDENTITY_HEADER, ...extra].filter(Boolean);
    for (const v of secrets) {
      if (this.handler.output.includes(v)) throw new Error(`the handler's output carries a secret (${v.slice(0, 4)}…)`);
    }
  }

  /**
   * emulatorRequests counts the stand-in's logged requests to a path, once
   * its log has caught up: the log comes through a pipe, so it first probes
   * the stand-in's health and waits for that probe's line, which it logs
   * after every request answered before.
   */
  async emulatorRequests(path) {
    const count = (p) => this.emulator.output.split('\n').filter((l) => /\bmsg=request\b/.test(l) && / path=(\S+)/.exec(l)?.[1] === p).length;
    const probes = count('/api/health');
    const r = await fetch(`${this.serviceURL}/api/health`, { method: 'HEAD' });
    assert(r.ok, `the stand-in's health probe answered ${r.status}`);
    await until(() => count('/api/health') > probes, 2000, "the stand-in's log to show its health probe");
    return count(path);
  }

  async stop() {
    await Promise.allSettled(this.clients.map((c) => c.conn.stop()));
    // The handler first, so it does not log the stand-in going away.
    for (const p of [...this.procs].reverse()) await p.stop();
  }
}

/** Client is a @microsoft/signalr connection and the messages it got. */
export class Client {
  constructor(stack, user, url, options) {
    this.user = user;
    this.got = [];
    const logger = {
      log: (level, msg) => {
        if (level >= LogLevel.Information) stack.clientLog.push(`[${user ?? 'anonymous'}] ${LogLevel[level]}: ${msg}`);
      },
    };
    // options.protocol, when set, is the hub protocol, such as MessagePack.
    const { protocol, ...urlOptions } = options;
    let builder = new HubConnectionBuilder()
      .withUrl(url, {
        headers: user ? { [USER_HEADER]: user } : {},
        transport: HttpTransportType.WebSockets,
        ...urlOptions,
      })
      .configureLogging(logger);
    if (protocol) builder = builder.withHubProtocol(protocol);
    this.conn = builder.build();
    this.conn.on(TARGET, (...args) => { this.got.push(args); });
  }

  get id() { return this.conn.connectionId; }

  /** texts are the first arguments of the messages received, in order. */
  texts() { return this.got.map((a) => a[0]); }

  /** waitFor waits until a message with the text has arrived. */
  waitFor(text, ms = 5000) {
    return until(() => this.texts().includes(text), ms, `${this.user} to receive ${JSON.stringify(text)} (got ${JSON.stringify(this.texts())})`);
  }
}

/**
 * withStack wraps a test body: it gets a fresh Stack (call stack.start),
 * and the processes and clients are stopped after it, pass or fail. On
 * failure the logs are printed as test diagnostics.
 */
export function withStack(body) {
  return async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'signalr-e2e-'));
    dirs.add(dir);
    const stack = new Stack(dir, []);
    try {
      await body(stack, t);
    } catch (err) {
      for (const line of stack.logs().split('\n')) t.diagnostic(line);
      throw err;
    } finally {
      await stack.stop();
      await rm(dir, { recursive: true, force: true });
      dirs.delete(dir);
    }
  };
}

/**
 * drain returns, for each client, the texts it received since the last
 * drain, and forgets them. It broadcasts a marker and waits for every
 * client to get it: the handler sends one item after another and the
 * stand-in keeps each connection's order, so once the marker is in, nothing
 * sent before it is still on its way, and "nothing else arrived" is proven
 * without sleeping.
 */
export async function drain(stack, clients) {
  const marker = `marker-${Math.random().toString(36).slice(2)}`;
  await stack.send({ target: TARGET, arguments: [marker] });
  const out = [];
  for (const c of clients) {
    await c.waitFor(marker);
    const i = c.texts().indexOf(marker);
    out.push(c.texts().slice(0, i));
    c.got.splice(0, i + 1);
  }
  return out;
}
