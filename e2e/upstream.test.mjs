// Upstream, end to end: real @microsoft/signalr clients (JSON and
// MessagePack) invoke hub methods; the stand-in posts each invocation and
// each connect and disconnect to an upstream rule's URL, as SignalR Service
// does, and passes the reply back to the awaiting client. The handler's
// upstream function must accept what the stand-in signs and refuse every
// spoilt token or signature with 401, which the client sees as
// "Invocation failed, status code 401".
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { JsonHubProtocol, MessageType, NullLogger } from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { freePort, until, withStack } from './harness.mjs';

const AUDIENCE = 'api://signalr-upstream';

/** managedIdentityRule is an upstream rule to url with managed identity auth for resource. */
function managedIdentityRule(url, resource = AUDIENCE) {
  return { urlTemplate: url, auth: { type: 'ManagedIdentity', managedIdentity: { resource } } };
}

/**
 * startUpstream runs the stand-in with the rule (to the handler's
 * /api/upstream when the rule has no urlTemplate), then the handler on the
 * port the rule names.
 */
async function startUpstream(s, { rule = managedIdentityRule(), emulatorFlags = [], handlerEnv = {}, program } = {}) {
  const port = await freePort();
  const r = { ...rule, urlTemplate: rule.urlTemplate ?? `http://127.0.0.1:${port}/api/upstream` };
  await s.startEmulator(['-identity', 'system=ServiceOwner', '-upstream', JSON.stringify(r), ...emulatorFlags]);
  await s.startHandler(handlerEnv, { port, program });
}

/** upstreamRecords are the handler's log records of its upstream function. */
function upstreamRecords(s) {
  return s.handlerLog().filter((l) => l.function === 'upstream' && l.msg === 'invocation done');
}

/** waitForEvent waits for the handler's record of an upstream event of the connection. */
function waitForEvent(s, event, connectionId) {
  return until(() => upstreamRecords(s).find((l) => l.event === event && l.connectionId === connectionId),
    5000, `the handler's record of ${event} for ${connectionId} (has ${JSON.stringify(upstreamRecords(s))})`);
}

/**
 * records waits until the handler has logged n upstream requests, and
 * returns them all: its log comes through a pipe, maybe after the reply
 * reached the client. A refused request's record names no event.
 */
function records(s, n) {
  return until(() => upstreamRecords(s).length >= n && upstreamRecords(s), 5000,
    `${n} upstream records in the handler's log (has ${JSON.stringify(upstreamRecords(s))})`);
}

/** signal sends a signal to the stand-in and waits for the log line that says it acted. */
async function signalEmulator(s, sig, line) {
  const before = s.emulator.output.split(line).length;
  s.emulator.child.kill(sig);
  await until(() => s.emulator.output.split(line).length > before, 5000, `the stand-in to log "${line}"`);
}

/**
 * appServer is an upstream app written here, standing in for a function
 * that returns results: "add" answers the sum, "fail" an error completion,
 * "crash" a 500, and anything else 200 with no body. It answers in the
 * request's protocol, with the client's own protocol classes.
 */
async function appServer() {
  const json = new JsonHubProtocol();
  const msgpack = new MessagePackHubProtocol();
  const got = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const packed = req.headers['content-type'] === 'application/x-msgpack';
    const entry = { headers: req.headers, body, message: null };
    got.push(entry);
    if (req.headers['x-asrs-category'] !== 'messages') return res.end();
    // The upstream body is one message without its framing: frame it to
    // read it with the client's own protocol.
    const m = packed
      ? msgpack.parseMessages(arrayBuffer(Buffer.concat([varint(body.length), body])), NullLogger.instance)[0]
      : JSON.parse(body.toString());
    entry.message = m;
    const complete = (fields) => {
      const msg = { type: MessageType.Completion, invocationId: m.invocationId, headers: {}, ...fields };
      res.setHeader('content-type', packed ? 'application/x-msgpack' : 'application/json');
      res.end(packed ? Buffer.from(msgpack.writeMessage(msg)) : json.writeMessage(msg));
    };
    switch (m.target) {
      case 'add': return complete({ result: m.arguments.reduce((a, b) => a + b, 0) });
      case 'fail': return complete({ error: 'no such thing' });
      case 'crash': res.statusCode = 500; return res.end();
      default: return res.end();
    }
  });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}/events/{event}`, got, close: () => new Promise((r) => server.close(r)) };
}

/** arrayBuffer copies a Buffer's bytes into an ArrayBuffer of their own. */
function arrayBuffer(b) {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
}

/** varint is the MessagePack hub protocol's length prefix. */
function varint(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
}

for (const [name, protocol] of [['JSON', undefined], ['MessagePack', new MessagePackHubProtocol()]]) {
  test(`${name}: the stand-in posts invocations upstream and hands the app's reply to the client`, { timeout: 30000 }, withStack(async (s) => {
    const app = await appServer();
    try {
      await startUpstream(s, { rule: { urlTemplate: app.url, categoryPattern: 'messages' } });
      const c = await s.connect('alice', { protocol });

      assert.equal(await c.conn.invoke('add', 2, 3, 4), 9);
      await assert.rejects(c.conn.invoke('fail'), /no such thing/);
      await assert.rejects(c.conn.invoke('crash'), /Invocation failed, status code 500/);
      assert.equal(await c.conn.invoke('quiet'), undefined);
      await c.conn.send('note', 'no reply wanted');
      await until(() => app.got.some((g) => g.message?.target === 'note'), 5000, 'the send to reach the app');

      const add = app.got.find((g) => g.message?.target === 'add');
      assert.equal(add.headers['content-type'], protocol ? 'application/x-msgpack' : 'application/json');
      assert.equal(add.headers['x-asrs-hub'], 'chat');
      assert.equal(add.headers['x-asrs-category'], 'messages');
      assert.equal(add.headers['x-asrs-event'], 'add');
      assert.equal(add.headers['x-asrs-user-id'], 'alice');
      assert.equal(add.headers['x-asrs-connection-id'], c.id);
      assert.match(add.headers['x-asrs-signature'], /^sha256=[0-9A-F]{64}, sha256=[0-9A-F]{64}$/);
      assert.deepEqual(add.message.arguments, [2, 3, 4]);
      const note = app.got.find((g) => g.message?.target === 'note');
      assert.ok(!note.message.invocationId, 'a send carries no invocation id');
      if (!protocol) {
        assert.equal(note.body.toString(), '{"type":1,"target":"note","arguments":["no reply wanted"]}');
      }
      // The rule takes messages only: no connected event was posted.
      assert.ok(app.got.every((g) => g.headers['x-asrs-category'] === 'messages'));
    } finally {
      await app.close();
    }
  }));
}

test('through the handler: connected, invocations and disconnected, with a managed identity token', { timeout: 30000 }, withStack(async (s) => {
  await startUpstream(s);
  const c = await s.connect('bob');
  const m = await s.connect('carol', { protocol: new MessagePackHubProtocol() });
  await waitForEvent(s, 'connected', c.id);
  await waitForEvent(s, 'connected', m.id);

  // The shipped handler accepts every event: an awaited invocation
  // completes with no result, in either protocol.
  assert.equal(await c.conn.invoke('broadcast', 'hello'), undefined);
  assert.equal(await m.conn.invoke('broadcast', 'hello in MessagePack'), undefined);
  await c.conn.send('typing', true);
  await waitForEvent(s, 'typing', c.id);
  const broadcast = (await records(s, 5)).filter((l) => l.event === 'broadcast');
  assert.deepEqual(broadcast.map((l) => [l.status, l.category, l.hub]), [[200, 'messages', 'chat'], [200, 'messages', 'chat']]);

  const id = c.id;
  await c.conn.stop();
  await waitForEvent(s, 'disconnected', id);
  assert.ok(upstreamRecords(s).every((l) => !l.refused), `nothing refused: ${JSON.stringify(upstreamRecords(s))}`);
  s.assertNoSecrets();
}));

for (const [name, protocol] of [['JSON', undefined], ['MessagePack', new MessagePackHubProtocol()]]) {
  test(`${name}: the chat example answers hub calls with results and errors, through the stand-in`, { timeout: 30000 }, withStack(async (s) => {
    await startUpstream(s, { program: 'chat' });
    const alice = await s.connect('alice', { protocol });
    const bob = await s.connect('bob', { protocol });

    assert.deepEqual(await alice.conn.invoke('whoAmI'), { connectionId: alice.id, userId: 'alice' });
    await assert.rejects(alice.conn.invoke('sendToUser', '', 'to nobody'), /sendToUser needs a user id/);
    assert.equal(await alice.conn.invoke('joinGroup', 'team'), undefined);
    await alice.conn.invoke('sendToGroup', 'team', 'for the team');
    await bob.conn.invoke('broadcast', 'hello, all');
    await alice.waitFor('bob');
    await until(() => bob.got.some((a) => a[1] === 'hello, all'), 5000, 'bob to get his broadcast');
    assert.deepEqual(alice.got, [['alice', 'for the team'], ['bob', 'hello, all']]);
    assert.deepEqual(bob.got, [['bob', 'hello, all']]);
  }));
}

const OTHER_ID = '00000000-0000-4000-8000-00000000beef';
const TENANT = '7e5a0000-0000-4000-8000-000000000001';

for (const { name, rule, emulatorFlags = [], handlerEnv = {}, refused } of [
  { name: 'a token for another audience', rule: managedIdentityRule(undefined, 'api://someone-else'), handlerEnv: { SIGNALR_UPSTREAM_AUDIENCE: AUDIENCE }, refused: 'token audience' },
  { name: "another tenant's token (issuer)", emulatorFlags: ['-upstream-token-flaw', 'other-tenant'], refused: 'token issuer' },
  { name: 'a token signed with an unpublished key', emulatorFlags: ['-upstream-token-flaw', 'unknown-key'], refused: 'token key unknown' },
  { name: "another identity's token", handlerEnv: { SIGNALR_UPSTREAM_IDENTITY: OTHER_ID }, refused: 'token identity' },
  { name: 'an expired token', emulatorFlags: ['-upstream-token-flaw', 'expired'], refused: 'token expired' },
  {
    name: 'no token where one is required',
    rule: {},
    // The rule has no identity, so the env file names no upstream settings.
    emulatorFlags: ['-tenant', TENANT],
    handlerEnv: { SIGNALR_UPSTREAM_AUDIENCE: AUDIENCE, SIGNALR_UPSTREAM_TENANT: TENANT, SIGNALR_UPSTREAM_IDENTITY: OTHER_ID },
    refused: 'token missing',
  },
]) {
  test(`the handler refuses ${name}`, { timeout: 30000 }, withStack(async (s) => {
    await startUpstream(s, { rule, emulatorFlags, handlerEnv });
    const c = await s.connect('dave');
    await assert.rejects(c.conn.invoke('broadcast', 'hi'), /Invocation failed, status code 401/);
    // The connected event and the call.
    const all = await records(s, 2);
    assert.ok(all.every((l) => l.status === 401 && l.refused === refused),
      `every upstream request refused for "${refused}": ${JSON.stringify(all)}`);
  }));
}

test('signatures: accepted with the access key, refused once the service has new keys', { timeout: 30000 }, withStack(async (s) => {
  const port = await freePort();
  await s.startEmulator(['-upstream', JSON.stringify({ urlTemplate: `http://127.0.0.1:${port}/api/upstream` })]);
  await s.startHandler({
    AzureSignalRConnectionString__serviceUri: null,
    AzureSignalRConnectionString__credential: null,
    AzureSignalRConnectionString: s.emulatorEnv.SIGNALR_EMULATOR_CONNECTION_STRING,
  }, { port });
  const c = await s.connect('erin');
  assert.equal(await c.conn.invoke('broadcast', 'signed'), undefined);

  // The resource's primary key regenerated: the client stays connected, but
  // the signatures no longer match the handler's key.
  await signalEmulator(s, 'SIGUSR2', 'primary access key regenerated');
  await assert.rejects(c.conn.invoke('broadcast', 'after'), /Invocation failed, status code 401/);
  // connected, the signed call, the refused one.
  const last = (await records(s, 3))[2];
  assert.equal(last.status, 401);
  assert.match(last.refused, /signature/);
  s.assertNoSecrets();
}));

test('keys rotating at the authority: a new kid is fetched, at most once a minute', { timeout: 120000 }, withStack(async (s) => {
  await startUpstream(s);
  const c = await s.connect('frank');
  assert.equal(await c.conn.invoke('broadcast', 'before'), undefined);
  const fetched = Date.now();

  // The authority signs with a new key at once. The handler fetched the
  // keys a moment ago, so it refuses the unknown kid rather than fetch
  // again within the minute ...
  await signalEmulator(s, 'SIGUSR1', 'authority signing key rotated');
  await assert.rejects(c.conn.invoke('broadcast', 'too soon'), /Invocation failed, status code 401/);
  assert.equal((await records(s, 3))[2].refused, 'token key unknown');

  // ... and fetches them once the minute is over, then accepts it.
  await until(() => Date.now() - fetched > 61000, 70000, 'a minute since the keys were fetched');
  assert.equal(await c.conn.invoke('broadcast', 'after a minute'), undefined);
  assert.equal((await records(s, 4))[3].status, 200);
}));
