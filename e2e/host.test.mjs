// Through the Functions host's rule, end to end: the host stand-in
// (scripts/funchost) reads the repository's host.json and function.json
// files and hands each request to the handler in the mode the real host
// would pick — proxied or payload — while real @microsoft/signalr clients
// (JSON and MessagePack) negotiate, receive, and invoke hub methods that the
// stand-in of SignalR Service posts upstream. Each test runs with host.json
// as shipped (enableProxyingHttpRequest on) and with proxying turned off.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { HUB, freePort, until, withStack } from './harness.mjs';

const AUDIENCE = 'api://signalr-upstream';

/**
 * startBehindHost runs the stand-in of SignalR Service with an upstream
 * rule to the host's function route, the handler as the host runs it, and
 * the host stand-in in front, on the port the rule names.
 */
async function startBehindHost(s, route, proxying, program = 'handler') {
  const hostPort = await freePort();
  const rule = {
    urlTemplate: `http://127.0.0.1:${hostPort}/api/${route}/{hub}/{category}/{event}`,
    auth: { type: 'ManagedIdentity', managedIdentity: { resource: AUDIENCE } },
  };
  await s.startEmulator(['-identity', 'system=ServiceOwner', '-upstream', JSON.stringify(rule)]);
  await s.startHandler({ FUNCTIONS_WORKER_RUNTIME: 'custom' }, { program });
  await s.startHost({ port: hostPort, proxying });
}

const variants = [
  { name: 'host.json as shipped', proxying: '', mode: 'proxied' },
  { name: 'proxying off', proxying: 'off', mode: 'payload' },
];

for (const { name, proxying, mode } of variants) {
  test(`${name}: JSON and MessagePack clients through upstream-direct`, { timeout: 30000 }, withStack(async (s) => {
    await startBehindHost(s, 'upstream-direct', proxying);
    // The host's rule: only functions with nothing but req and res are
    // proxied; upstream, with its events output, always gets the payload.
    assert.deepEqual(s.modes, { groups: mode, manage: mode, messages: mode, negotiate: mode, upstream: 'payload', 'upstream-direct': mode });

    const json = await s.connect('alice');
    const packed = await s.connect('bob', { protocol: new MessagePackHubProtocol() });
    await s.send({ target: 'newMessage', arguments: [`hello ${mode}`] });
    await json.waitFor(`hello ${mode}`);
    await packed.waitFor(`hello ${mode}`);
    assert.ok(s.invocations('negotiate').every((i) => i.mode === mode && i.status === 200),
      JSON.stringify(s.invocations('negotiate')));

    // manage through the host: a MessagePack client answers an invocation.
    packed.conn.on('where', () => ({ mode }));
    const m = await s.post('/api/manage', { action: 'invoke', connectionId: packed.id, target: 'where', arguments: [] });
    assert.equal(m.status, 200, m.text);
    assert.deepEqual(m.json, { results: [{ index: 0, result: { mode } }] });
    assert.ok(s.invocations('manage').every((i) => i.mode === mode), JSON.stringify(s.invocations('manage')));

    assert.equal(await json.conn.invoke('broadcast', 'from JSON'), undefined);
    if (mode === 'proxied') {
      // The bytes of a MessagePack invocation reach the handler as sent.
      assert.equal(await packed.conn.invoke('broadcast', 'from MessagePack'), undefined);
    } else {
      // A payload carries bodies as text, which garbles MessagePack: the
      // handler refuses it.
      await assert.rejects(packed.conn.invoke('broadcast', 'from MessagePack'), /Invocation failed, status code 415/);
    }
    // The host's record of each call: a proxied reply's status, or the
    // status of the payload reply's http output.
    const status = (i) => (i.mode === 'payload' ? i.outputs?.res?.statusCode : i.status);
    const calls = await until(() => {
      const c = s.invocations('upstream-direct');
      return c.length >= 4 && c; // two connects, two calls
    }, 5000, 'the host to record the upstream-direct invocations');
    assert.ok(calls.every((i) => i.mode === mode), JSON.stringify(calls));
    assert.deepEqual(calls.map(status).sort(), mode === 'proxied' ? [200, 200, 200, 200] : [200, 200, 200, 415]);
    if (mode === 'proxied') {
      // No Logs array when proxied: the record goes to the handler's log,
      // saying how the request came.
      await until(() => s.handlerLog().some((l) => l.msg === 'invocation done' && l.event === 'broadcast' && l.arrival === 'proxied'),
        5000, "the handler's record of a proxied call");
    }
  }));

  test(`${name}: upstream copies JSON clients' events to its events output`, { timeout: 30000 }, withStack(async (s) => {
    await startBehindHost(s, 'upstream', proxying);
    const json = await s.connect('carol');
    const packed = await s.connect('dave', { protocol: new MessagePackHubProtocol() });

    assert.equal(await json.conn.invoke('broadcast', 'queued'), undefined);
    // The handler writes each event as JSON text, which the host puts on
    // the queue as it is.
    const events = () => s.invocations('upstream').filter((i) => typeof i.outputs?.events === 'string')
      .map((i) => ({ mode: i.mode, ...JSON.parse(i.outputs.events) }));
    const queued = await until(() => events().find((e) => e.event === 'broadcast'), 5000, 'the events output of the broadcast');
    assert.equal(queued.mode, 'payload');
    assert.equal(queued.hub, HUB);
    assert.equal(queued.connectionId, json.id);
    assert.deepEqual(queued.arguments, ['queued']);
    // Whatever host.json says, the host hands upstream the payload, and a
    // MessagePack body does not survive it.
    await assert.rejects(packed.conn.invoke('broadcast', 'lost'), /Invocation failed, status code 415/);
  }));
}

test('host.json as shipped: the chat example answers a MessagePack client through upstream-direct', { timeout: 30000 }, withStack(async (s) => {
  await startBehindHost(s, 'upstream-direct', '', 'chat');
  const alice = await s.connect('alice', { protocol: new MessagePackHubProtocol() });
  assert.deepEqual(await alice.conn.invoke('whoAmI'), { connectionId: alice.id, userId: 'alice' });
  await assert.rejects(alice.conn.invoke('sendToUser', '', 'to nobody'), /sendToUser needs a user id/);
  assert.ok(s.invocations('upstream-direct').every((i) => i.mode === 'proxied'));
}));
