// The demo page, end to end: demo/serve.mjs serves it, headless Chromium
// (driven over the DevTools protocol on --remote-debugging-pipe, so no
// WebSocket client and no npm package is needed) opens it, connects as a
// user through the handler, and the messages posted to the handler must
// show on the page, as text.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Proc, TARGET, freePort, until, withStack } from './harness.mjs';

const demoDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'demo');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);
const screenshotPath = process.env.DEMO_SCREENSHOT ?? join(tmpdir(), 'demo.png');

/** startDemo runs demo/serve.mjs on a free port for the stack's handler and waits for it. */
async function startDemo(s, port) {
  const p = new Proc('demo', process.execPath, [join(demoDir, 'serve.mjs'), '--port', String(port), '--api', `${s.url}/api`],
    { env: { PATH: process.env.PATH }, cwd: s.dir });
  s.procs.push(p);
  const url = `http://127.0.0.1:${port}/`;
  await until(async () => {
    if (!p.alive) throw new Error(`demo/serve.mjs exited (${p.exitCode ?? p.exitSignal}): ${p.output}`);
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      return r.status === 200;
    } catch {
      return false;
    }
  }, 10000, 'demo/serve.mjs to answer');
  return url;
}

test('serve.mjs serves only the page, the client and the handler URL', { timeout: 30000 }, withStack(async (s) => {
  // No handler runs: only the URL the page is told matters here.
  s.url = 'http://127.0.0.1:7071';
  const page = await startDemo(s, await freePort());
  const get = async (path, init) => {
    const r = await fetch(new URL(path, page), init);
    return { status: r.status, type: r.headers.get('content-type'), csp: r.headers.get('content-security-policy'), text: await r.text() };
  };
  const index = await get('/');
  assert.equal(index.status, 200);
  assert.equal(index.type, 'text/html; charset=utf-8');
  assert.match(index.csp, /default-src 'self'/);
  assert.match(index.text, /<script src="signalr.min.js"><\/script>/);

  const config = await get('/config.js');
  assert.equal(config.text, 'window.DEMO_CONFIG = {"api":"http://127.0.0.1:7071/api"};\n');

  const client = await get('/signalr.min.js');
  assert.equal(client.status, 200);
  assert.match(client.text, /HubConnectionBuilder/);

  for (const path of ['/serve.mjs', '/../e2e/package.json', '/%2e%2e/e2e/package.json', '/node_modules/@microsoft/signalr/package.json']) {
    assert.equal((await get(path)).status, 404, path);
  }
  assert.equal((await get('/', { method: 'POST' })).status, 405);

  // The page loads nothing from beyond loopback: no CDN, no external URL.
  for (const f of await readdir(demoDir)) {
    const text = await readFile(join(demoDir, f), 'utf8');
    for (const [u] of text.matchAll(/\b(?:https?|wss?):\/\/[^\s'"`)<>]+/g)) {
      assert.match(u, /^https?:\/\/(?:127\.0\.0\.1|localhost)(?:[:/]|$)/, `${f} names ${u}`);
    }
  }
}));

test('serve.mjs refuses bad flags with the setting and what is valid', { timeout: 10000 }, async () => {
  for (const [args, want] of [
    [['--port', 'http'], /invalid --port "http": use a port from 1 to 65535, or 0 for a free one/],
    [['--port', '70000'], /invalid --port "70000"/],
    [['--api', 'ftp://x/api'], /invalid --api "ftp:\/\/x\/api": give the handler's base URL without a query/],
  ]) {
    const p = new Proc('demo', process.execPath, [join(demoDir, 'serve.mjs'), ...args], { env: { PATH: process.env.PATH } });
    const { code } = await p.exited;
    assert.equal(code, 2, p.output);
    assert.match(p.output, want);
  }
});

test('the demo page connects as the named user and shows what the handler sends', {
  timeout: 90000,
  skip: !haveChromium && !process.env.CI
    ? `${chromiumPath} is not installed (apt-get install -y chromium); the test runs whenever CI is set`
    : false,
}, withStack(async (s) => {
  assert.ok(haveChromium, `CI is set but there is no Chromium at ${chromiumPath}: apt-get install -y chromium`);
  const demoPort = await freePort();
  const origin = `http://127.0.0.1:${demoPort}`;
  // Under a (pretend) host the handler allows no browser origin unless told;
  // standalone it would allow loopback, but it could not take a free port.
  // Hub calls go upstream to the handler, as in make run.
  const port = await freePort();
  const rule = { urlTemplate: `http://127.0.0.1:${port}/api/upstream`, auth: { type: 'ManagedIdentity', managedIdentity: { resource: 'api://signalr-upstream' } } };
  await s.startEmulator(['-identity', 'system=ServiceOwner', '-upstream', JSON.stringify(rule)]);
  await s.startHandler({ SIGNALR_CORS_ORIGINS: origin }, { port });
  const page = await startDemo(s, demoPort);

  const browser = await Browser.launch(chromiumPath, (line) => s.clientLog.push(`[browser] ${line}`));
  try {
    const tab = await browser.open(page);
    const state = () => tab.eval(`document.getElementById('state').dataset.state + ' | ' + document.getElementById('state').textContent`);
    const items = () => tab.eval(`[...document.querySelectorAll('#messages li')].map((li) => ({
      target: li.dataset.target,
      from: li.querySelector('.from')?.textContent ?? null,
      text: li.querySelector('.text')?.textContent,
    }))`);
    const waitForText = async (text) => {
      try {
        return await until(async () => (await items()).find((m) => m.text === text), 10000, `the page to show ${JSON.stringify(text)}`);
      } catch (err) {
        throw new Error(`${err.message}; the page is ${await state()} and shows ${JSON.stringify(await items())}`);
      }
    };

    assert.equal(await tab.eval(`document.getElementById('api').textContent`), `${s.url}/api`);
    // Empty fields look empty: no greyed example text that reads as a
    // value; the labels say what empty means.
    assert.deepEqual(await tab.eval(`[...document.querySelectorAll('input')].filter((i) => i.placeholder).map((i) => i.id)`), []);
    // Values are real defaults that are used as they stand: the hub, and the
    // hub call the "Call the hub" box makes.
    assert.deepEqual(await tab.eval(`[...document.querySelectorAll('input')].filter((i) => i.value).map((i) => i.id)`), ['hub', 'method', 'args']);
    assert.match(await tab.eval(`document.getElementById('name').labels[0].textContent`), /empty: anonymous/);
    await tab.eval(`document.getElementById('name').value = 'alice'; document.getElementById('connect').click()`);
    await until(async () => {
      const st = await state();
      if (st.startsWith('failed')) throw new Error(`the page failed to connect: ${st}`);
      return st.startsWith('connected');
    }, 15000, 'the page to connect');
    assert.equal(await state(), 'connected | Connected: as alice on hub chat');

    // To the user "alice": the name became the connection's user id.
    const hostile = 'hi alice <img src=x onerror="window.pwned = 1">';
    await s.send({ userId: 'alice', target: TARGET, arguments: ['bob', hostile] });
    assert.deepEqual(await waitForText(hostile), { target: TARGET, from: 'bob', text: hostile });
    assert.equal(await tab.eval(`document.querySelector('#messages img') === null && window.pwned === undefined`), true);

    // Another user's message does not arrive; the broadcast after it proves
    // it is not merely late (the stand-in keeps each connection's order).
    await s.send({ userId: 'bob', target: TARGET, arguments: ['carol', 'for bob only'] });
    await s.send({ target: 'statusChanged', arguments: [{ online: 2 }, 'x'] });
    await s.send({ target: TARGET, arguments: ['carol', 'hello, everyone'] });
    await waitForText('hello, everyone');

    // The page's own send box posts to the handler's messages function.
    await tab.eval(`document.getElementById('text').value = 'hello from the page'; document.getElementById('send').click()`);
    await waitForText('hello from the page');
    assert.equal(await tab.eval(`document.getElementById('send-state').textContent`), 'Sent to everyone.');

    assert.deepEqual(await items(), [
      { target: TARGET, from: 'bob', text: hostile },
      { target: 'statusChanged', from: null, text: '[{"online":2},"x"]' },
      { target: TARGET, from: 'carol', text: 'hello, everyone' },
      { target: TARGET, from: 'alice', text: 'hello from the page' },
    ]);
    // Calling the hub: the service posts the call to the handler's upstream
    // function, which completes it with no result; bad arguments never leave.
    const invokeState = () => tab.eval(`document.getElementById('invoke-state').textContent`);
    const invokeNote = () => tab.eval(`document.getElementById('invoke-note').hidden ? null : document.getElementById('invoke-note').textContent.replace(/\\s+/g, ' ')`);
    assert.equal(await invokeNote(), null);
    await tab.eval(`document.getElementById('invoke').click()`);
    assert.equal(await until(async () => (await invokeState()).endsWith('.') && invokeState(), 10000, 'the hub call to complete'),
      'broadcast completed with no result.');
    // The page says why nothing else happened, and where hub methods are answered.
    assert.match(await invokeNote(), /takes every hub call and answers with no result, so nothing else happens here .* run examples\/chat, whose broadcast sends the text to everyone\./);
    // The handler sends its reply before writing the record.
    const called = await until(() => {
      const records = s.handlerLog().filter((r) => r.function === 'upstream' && r.event === 'broadcast');
      return records.length > 0 && records;
    }, 2000, "the upstream call's log record");
    assert.deepEqual(called.map((r) => [r.status, r.category, r.hub]), [[200, 'messages', 'chat']]);
    await tab.eval(`document.getElementById('args').value = '{"not": "an array"}'; document.getElementById('invoke').click()`);
    assert.equal(await invokeState(), 'The arguments are not a JSON array: it is not an array');

    const negotiated = s.handlerLog().filter((r) => r.msg === 'invocation done' && r.function === 'negotiate' && r.status === 200);
    assert.deepEqual(negotiated.map((r) => [r.hub, r.authenticated]), [['chat', true]]);

    const png = await tab.screenshot();
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    await writeFile(screenshotPath, png);

    // ?api= points the page elsewhere; a handler that is not there is
    // reported, not left hanging.
    const dead = `http://127.0.0.1:${await freePort()}/api`;
    const lost = await browser.open(`${page}?api=${encodeURIComponent(dead)}&hub=news`);
    assert.equal(await lost.eval(`document.getElementById('api').textContent`), dead);
    await lost.eval(`document.getElementById('connect').click()`);
    const failed = await until(async () => {
      const st = await lost.eval(`document.getElementById('state').textContent`);
      return st.startsWith('Failed') && st;
    }, 10000, 'the page to report the failed connection');
    assert.match(failed, /^Failed: Failed to complete negotiation with the server/);
    await lost.eval(`document.getElementById('text').value = 'lost'; document.getElementById('send').click()`);
    const unsent = await until(async () => {
      const st = await lost.eval(`document.getElementById('send-state').textContent`);
      return st.startsWith('Not sent') && st;
    }, 10000, 'the page to report the failed send');
    assert.equal(unsent, 'Not sent: Failed to fetch');

    // A hub the handler does not serve: its refusal reads as a sentence,
    // not as the reply's JSON.
    const wrong = await browser.open(`${page}?hub=nope`);
    await wrong.eval(`document.getElementById('connect').click()`);
    const refused = await until(async () => {
      const st = await wrong.eval(`document.getElementById('state').textContent`);
      return st.startsWith('Failed') && st;
    }, 10000, 'the page to report the refused hub');
    assert.equal(refused, `Failed: The handler's negotiate answered 404: hub "nope" is not served here; the hubs are chat (SIGNALR_HUBS)`);
    await wrong.eval(`document.getElementById('text').value = 'to nowhere'; document.getElementById('send').click()`);
    const notSent = await until(async () => {
      const st = await wrong.eval(`document.getElementById('send-state').textContent`);
      return st.startsWith('Not sent') && st;
    }, 10000, 'the page to report the refused send');
    assert.equal(notSent, `Not sent: the handler's messages answered 404: hub "nope" is not served here; the hubs are chat (SIGNALR_HUBS)`);
  } finally {
    await browser.close();
  }
}));

test('the demo page works against examples/chat and shows the user id the token carries', {
  timeout: 90000,
  skip: !haveChromium && !process.env.CI
    ? `${chromiumPath} is not installed (apt-get install -y chromium); the test runs whenever CI is set`
    : false,
}, withStack(async (s) => {
  assert.ok(haveChromium, `CI is set but there is no Chromium at ${chromiumPath}: apt-get install -y chromium`);
  // As examples/chat's doc runs it, but trusting no user id header: the
  // name typed on the page is then not the connection's user.
  const port = await freePort();
  const rule = { urlTemplate: `http://127.0.0.1:${port}/api/upstream`, auth: { type: 'ManagedIdentity', managedIdentity: { resource: 'api://signalr-upstream' } } };
  await s.startEmulator(['-identity', 'system=ServiceOwner', '-upstream', JSON.stringify(rule)]);
  await s.startHandler({ SIGNALR_USERID_HEADER: null }, { port, program: 'chat' });
  const page = await startDemo(s, await freePort());

  const browser = await Browser.launch(chromiumPath, (line) => s.clientLog.push(`[browser] ${line}`));
  try {
    const tab = await browser.open(page);
    const state = () => tab.eval(`document.getElementById('state').textContent`);
    await tab.eval(`document.getElementById('name').value = 'ada'; document.getElementById('connect').click()`);
    const connected = await until(async () => {
      const st = await state();
      if (st.startsWith('Failed')) throw new Error(`the page failed to connect: ${st}`);
      return st.startsWith('Connected') && st;
    }, 15000, 'the page to connect');
    assert.equal(connected, 'Connected: anonymous on hub chat: the handler did not take "ada" as the user id '
      + '(it trusts the x-ms-signalr-userid header only when SIGNALR_USERID_HEADER names it)');

    // broadcast is answered in Go: the text comes back to everyone, from
    // the caller's connection id, since it has no user id.
    const invokeState = () => tab.eval(`document.getElementById('invoke-state').textContent`);
    const done = (prefix) => until(async () => {
      const st = await invokeState();
      return st.startsWith(prefix) && st;
    }, 10000, `the hub call ${prefix}`);
    await tab.eval(`document.getElementById('invoke').click()`);
    assert.equal(await done('broadcast completed'), 'broadcast completed with no result.');
    const got = await until(async () => tab.eval(`[...document.querySelectorAll('#messages li')].map((li) => ({
      from: li.querySelector('.from')?.textContent ?? null, text: li.querySelector('.text')?.textContent }))
      .find((m) => m.text === 'hello through the hub') ?? null`), 10000, 'the broadcast to come back');
    await tab.eval(`document.getElementById('method').value = 'whoAmI'; document.getElementById('args').value = '[]'; document.getElementById('invoke').click()`);
    const who = JSON.parse((await done('whoAmI returned ')).slice('whoAmI returned '.length));
    assert.deepEqual(who, { connectionId: got.from, userId: '' });
    assert.equal(await tab.eval(`document.getElementById('invoke-note').hidden`), true);

    // The page's own send is labelled with the token's user id, which is
    // none here, not with the name typed.
    await tab.eval(`document.getElementById('text').value = 'sent by the page'; document.getElementById('send').click()`);
    const sent = await until(async () => tab.eval(`[...document.querySelectorAll('#messages li')].map((li) => ({
      from: li.querySelector('.from')?.textContent ?? null, text: li.querySelector('.text')?.textContent }))
      .find((m) => m.text === 'sent by the page') ?? null`), 10000, "the page's message to come back");
    assert.deepEqual(sent, { from: 'anonymous', text: 'sent by the page' });
  } finally {
    await browser.close();
  }
}));

/**
 * Browser is headless Chromium driven over the DevTools protocol on
 * --remote-debugging-pipe: JSON messages ended by NUL, written to its fd 3
 * and read from its fd 4.
 */
class Browser {
  static async launch(path, log) {
    const profile = await mkdtemp(join(tmpdir(), 'demo-chromium-'));
    const child = spawn(path, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync', `--user-data-dir=${profile}`,
      '--remote-debugging-pipe', '--disable-dev-shm-usage', '--disable-extensions', '--disable-default-apps',
      '--disable-domain-reliability', '--no-default-browser-check', '--hide-scrollbars', '--mute-audio',
      // Belt and braces: no host name resolves, so nothing beyond loopback is reached.
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
      'about:blank',
    ], { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'], detached: true });
    return new Browser(child, profile, log);
  }

  constructor(child, profile, log) {
    this.child = child;
    this.profile = profile;
    this.log = log;
    this.output = '';
    this.nextId = 1;
    this.pending = new Map();
    this.handlers = new Map();
    const killAll = () => this.kill();
    process.on('exit', killAll);
    child.stdout.setEncoding('utf8').on('data', (c) => { this.output += c; });
    child.stderr.setEncoding('utf8').on('data', (c) => { this.output += c; });
    let buf = '';
    child.stdio[4].setEncoding('utf8').on('data', (chunk) => {
      buf += chunk;
      for (let i = buf.indexOf('\0'); i >= 0; i = buf.indexOf('\0')) {
        this.dispatch(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
    });
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => { this.output += `\n[spawn failed: ${err.message}]`; });
      child.on('close', (code, signal) => {
        process.off('exit', killAll);
        this.gone = true;
        for (const { reject, method } of this.pending.values()) {
          reject(new Error(`chromium exited (${code ?? signal}) during ${method}: ${this.output.trim()}`));
        }
        this.pending.clear();
        resolve();
      });
    });
  }

  dispatch(msg) {
    if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message} ${msg.error.data ?? ''}`.trim()));
      else p.resolve(msg.result);
      return;
    }
    this.handlers.get(msg.method)?.(msg.params, msg.sessionId);
  }

  /** send runs a DevTools command, on a page when sessionId is given. */
  send(method, params = {}, sessionId = undefined) {
    if (this.gone) return Promise.reject(new Error(`chromium has exited; cannot run ${method}: ${this.output.trim()}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`chromium did not answer ${method} in 15 s`));
      }, 15000);
      this.pending.set(id, { resolve, reject, method, timer });
      this.child.stdio[3].write(`${JSON.stringify({ id, method, params, sessionId })}\0`);
    });
  }

  /** open opens url in a new tab and waits until it has loaded. */
  async open(url) {
    // Console messages, exceptions and browser log entries (failed requests,
    // CSP violations) go to the test's diagnostics.
    this.handlers.set('Runtime.consoleAPICalled', (p) => this.log(`console.${p.type}: ${p.args.map((a) => a.value ?? a.description).join(' ')}`));
    this.handlers.set('Runtime.exceptionThrown', (p) => this.log(`exception: ${p.exceptionDetails.exception?.description ?? p.exceptionDetails.text}`));
    this.handlers.set('Log.entryAdded', (p) => this.log(`${p.entry.level}: ${p.entry.text} ${p.entry.url ?? ''}`));
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    const tab = new Tab(this, sessionId);
    await tab.send('Runtime.enable');
    await tab.send('Log.enable');
    await tab.send('Page.enable');
    await tab.send('Emulation.setDeviceMetricsOverride', { width: 900, height: 900, deviceScaleFactor: 1, mobile: false });
    const nav = await tab.send('Page.navigate', { url });
    if (nav.errorText) throw new Error(`chromium could not open ${url}: ${nav.errorText}`);
    await until(async () => (await tab.eval('document.readyState')) === 'complete', 10000, `${url} to load`);
    return tab;
  }

  kill() {
    try {
      // The whole process group: the browser and its helper processes.
      process.kill(-this.child.pid, 'SIGKILL');
    } catch { /* already gone */ }
  }

  /** close asks Chromium to quit, kills it if it does not, and removes its profile. */
  async close() {
    if (!this.gone) {
      await Promise.race([this.send('Browser.close').catch(() => {}), sleep(3000)]);
      const timer = setTimeout(() => this.kill(), 3000);
      await this.exited;
      clearTimeout(timer);
    }
    // Helpers may outlive the browser process for a moment.
    this.kill();
    await rm(this.profile, { recursive: true, force: true, maxRetries: 5 });
  }
}

/** Tab is one page of the Browser. */
class Tab {
  constructor(browser, sessionId) {
    this.browser = browser;
    this.sessionId = sessionId;
  }

  send(method, params = {}) { return this.browser.send(method, params, this.sessionId); }

  /** eval runs a JavaScript expression in the page and returns its value. */
  async eval(expression) {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) {
      throw new Error(`in the page, ${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    }
    return r.result.value;
  }

  async screenshot() {
    const { data } = await this.send('Page.captureScreenshot', { format: 'png' });
    return Buffer.from(data, 'base64');
  }
}
