// The stand-in's REST API 2024-12-01, end to end with real @microsoft/signalr
// clients: a method invoked on one client answers with what the client's
// handler returns, closing connections hands the client the reason, a
// group's connections are listed page by page, and a user's group
// membership lasts its ttl. The REST calls go straight to the stand-in with
// an access-key token, as any REST client of the service makes them.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { HUB, TARGET, until, withStack } from './harness.mjs';

const owner = { emulatorFlags: ['-identity', 'system=ServiceOwner'] };
const API = '2024-12-01';

/** accessToken signs an HS256 REST token: aud is the URL without its query. */
function accessToken(key, aud) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ aud, iat: now, exp: now + 3600 })}`;
  return `${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`;
}

/** rest calls the stand-in's REST API; url is a path under the hub or a nextLink. */
async function rest(s, method, url, body) {
  const key = /AccessKey=([^;]+)/.exec(s.emulatorEnv.SIGNALR_EMULATOR_CONNECTION_STRING)[1];
  const u = new URL(url.startsWith('http') ? url : `${s.serviceURL}/api/hubs/${HUB}${url}`);
  if (!u.searchParams.has('api-version')) u.searchParams.set('api-version', API);
  const r = await fetch(u, {
    method,
    headers: { authorization: `Bearer ${accessToken(key, `${u.origin}${u.pathname}`)}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, code: r.headers.get('x-ms-error-code'), text, json };
}

for (const [name, protocol] of [['JSON', undefined], ['MessagePack', new MessagePackHubProtocol()]]) {
  test(`:invoke answers with what the client returns (${name})`, { timeout: 30000 }, withStack(async (s) => {
    await s.start(owner);
    const alice = await s.connect('alice', { protocol });
    alice.conn.on('add', (a, b) => ({ sum: a + b, who: 'alice' }));
    alice.conn.on('later', async (ms) => { await sleep(ms); return [ms, 'done']; });
    alice.conn.on('fail', () => { throw new Error('not today'); });
    alice.conn.on('nothing', () => null);
    alice.conn.on('undefined', () => {});

    let r = await rest(s, 'POST', `/connections/${alice.id}/:invoke`, { target: 'add', arguments: [2, 3] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { result: { sum: 5, who: 'alice' } });

    r = await rest(s, 'POST', `/connections/${alice.id}/:invoke`, { target: 'later', arguments: [200] });
    assert.deepEqual(r.json, { result: [200, 'done'] });

    // The client's error is the caller's: @microsoft/signalr sends the
    // thrown error's message.
    r = await rest(s, 'POST', `/connections/${alice.id}/:invoke`, { target: 'fail', arguments: [] });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.code, 'Error.Invocation.Failed');
    assert.match(r.json.message, /not today/);

    r = await rest(s, 'POST', `/connections/${alice.id}/:invoke`, { target: 'nothing', arguments: [] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { result: null });

    // A handler returning nothing, or none at all: @microsoft/signalr
    // fails the invocation.
    for (const target of ['undefined', 'unknown']) {
      r = await rest(s, 'POST', `/connections/${alice.id}/:invoke`, { target, arguments: [] });
      assert.equal(r.status, 400, r.text);
      assert.match(r.json.message, /Client didn't provide a result/);
    }

    r = await rest(s, 'POST', '/connections/nobody/:invoke', { target: 'add', arguments: [1, 2] });
    assert.equal(r.status, 404, r.text);
    assert.equal(r.code, 'Warning.Connection.NotExisted');
  }));
}

test('closing connections hands each client the reason', { timeout: 30000 }, withStack(async (s) => {
  await s.start(owner);
  const closed = (c) => new Promise((resolve) => c.conn.onclose((err) => resolve(err)));
  const a1 = await s.connect('alice');
  const a2 = await s.connect('alice', { protocol: new MessagePackHubProtocol() });
  const bob = await s.connect('bob');
  const carol = await s.connect('carol');
  const [a1Closed, a2Closed, bobClosed, carolClosed] = [a1, a2, bob, carol].map(closed);

  let r = await rest(s, 'DELETE', `/connections/${bob.id}?reason=${encodeURIComponent('bob, go home')}`);
  assert.equal(r.status, 200, r.text);
  assert.equal((await bobClosed)?.message, "Server returned an error on close: bob, go home");

  r = await rest(s, 'POST', `/users/alice/:closeConnections?excluded=${a1.id}&reason=maintenance`);
  assert.equal(r.status, 204, r.text);
  assert.equal((await a2Closed)?.message, 'Server returned an error on close: maintenance');
  assert.equal(a1.conn.state, 'Connected');

  // No reason: the client closes without an error.
  await rest(s, 'POST', `/:closeConnections?excluded=${carol.id}`);
  assert.equal(await a1Closed, undefined);
  assert.equal(carol.conn.state, 'Connected');

  await rest(s, 'PUT', `/groups/g/connections/${carol.id}`);
  await rest(s, 'POST', '/groups/g/:closeConnections?reason=group%20closed');
  assert.equal((await carolClosed)?.message, 'Server returned an error on close: group closed');
}));

test("a group's connections come page by page, top in all", { timeout: 30000 }, withStack(async (s) => {
  await s.start(owner);
  const clients = [];
  for (const u of ['u1', 'u2', 'u3', 'u4', 'u5']) clients.push(await s.connect(u));
  for (const c of clients.slice(0, 4)) await rest(s, 'PUT', `/groups/room/connections/${c.id}`);
  await rest(s, 'PUT', '/users/u5/groups/room?ttl=60');

  const seen = [];
  let pages = 0;
  for (let url = '/groups/room/connections?maxpagesize=2'; url; pages++) {
    const r = await rest(s, 'GET', url);
    assert.equal(r.status, 200, r.text);
    assert(r.json.value.length <= 2);
    seen.push(...r.json.value);
    url = r.json.nextLink;
  }
  assert.equal(pages, 3);
  assert.deepEqual(seen.map((m) => m.connectionId).sort(), clients.map((c) => c.id).sort());
  assert.deepEqual(Object.fromEntries(seen.map((m) => [m.connectionId, m.userId])),
    Object.fromEntries(clients.map((c) => [c.id, c.user])));

  const first = await rest(s, 'GET', '/groups/room/connections?maxpagesize=2&top=3');
  assert.equal(first.json.value.length, 2);
  const last = await rest(s, 'GET', first.json.nextLink);
  assert.equal(last.json.value.length, 1);
  assert.equal(last.json.nextLink, undefined);
}));

test("a user's group membership lasts its ttl; ttl 0 takes only the connections of the moment", { timeout: 30000 }, withStack(async (s) => {
  await s.start(owner);
  const early = await s.connect('dana');
  let r = await rest(s, 'PUT', '/users/dana/groups/now?ttl=0');
  assert.equal(r.status, 200, r.text);
  r = await rest(s, 'PUT', '/users/dana/groups/brief?ttl=1');
  assert.equal(r.status, 200, r.text);
  const late = await s.connect('dana');

  const send = (group, text) => rest(s, 'POST', `/groups/${group}/:send`, { target: TARGET, arguments: [text] });
  await send('now', 'now');
  await send('brief', 'brief');
  await early.waitFor('brief');
  await late.waitFor('brief');
  assert.deepEqual(early.texts(), ['now', 'brief']);
  assert.deepEqual(late.texts(), ['brief']);
  assert.equal((await rest(s, 'HEAD', '/users/dana/groups/brief')).status, 200);

  await until(async () => (await rest(s, 'HEAD', '/users/dana/groups/brief')).status === 404, 3000, 'the membership to end');
  await send('brief', 'too late');
  await rest(s, 'POST', '/users/dana/:send', { target: TARGET, arguments: ['marker'] });
  await late.waitFor('marker');
  assert.deepEqual(late.texts(), ['brief', 'marker']);
}));
