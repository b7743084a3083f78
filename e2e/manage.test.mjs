// The manage function, end to end: real @microsoft/signalr clients connect
// through the handler's negotiate; POST /api/manage invokes a method on one
// of them and gets what its handler returned, checks and lists connections,
// and closes them with a reason the client sees. Group memberships take a
// ttl through /api/groups.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { until, withStack } from './harness.mjs';

const owner = { emulatorFlags: ['-identity', 'system=ServiceOwner'] };

test('manage invokes, checks, lists and closes, one result per action in order', { timeout: 30000 }, withStack(async (s) => {
  await s.start(owner);
  const ada = await s.connect('ada');
  const bob = await s.connect('bob', { protocol: new MessagePackHubProtocol() });
  ada.conn.on('locate', (precise) => ({ city: 'Lyon', precise }));
  bob.conn.on('locate', () => { throw new Error('location is private'); });
  const bobClosed = new Promise((resolve) => bob.conn.onclose(resolve));

  await s.group({ action: 'add', userId: 'ada', groupName: 'room', ttl: 60 });
  const r = await s.post('/api/manage', [
    { action: 'invoke', connectionId: ada.id, target: 'locate', arguments: [true] },
    { action: 'invoke', connectionId: bob.id, target: 'locate', arguments: [] },
    { action: 'exists', userId: 'ada', groupName: 'room' },
    { action: 'exists', connectionId: 'gone' },
    { action: 'listConnections', groupName: 'room' },
    { action: 'closeConnection', connectionId: bob.id, reason: 'see you' },
  ]);
  assert.equal(r.status, 400, r.text);
  assert.deepEqual(r.json.results, [
    { index: 0, result: { city: 'Lyon', precise: true } },
    { index: 1, error: 'the invocation failed: Error: location is private' },
    { index: 2, exists: true },
    { index: 3, exists: false },
    { index: 4, connections: [{ connectionId: ada.id, userId: 'ada' }] },
    { index: 5 },
  ]);
  assert.equal((await bobClosed)?.message, 'Server returned an error on close: see you');

  // Everything done: 200.
  const ok = await s.post('/api/manage', { action: 'exists', userId: 'bob' });
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.json, { results: [{ index: 0, exists: false }] });

  // Fields twice, in any case, or empty are refused before anything runs.
  for (const [body, field] of [
    ['{"action":"closeConnections","groupName":"room","GroupName":"other"}', 'GroupName'],
    ['{"action":"closeConnections","userId":""}', 'userId'],
  ]) {
    const bad = await fetch(`${s.url}/api/manage`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await bad.text();
    assert.equal(bad.status, 400, text);
    assert.match(JSON.parse(text).error, new RegExp(field));
  }
  assert.equal(ada.conn.state, 'Connected');
}));

test('a ttl of 0 adds only the connections of the moment; a ttl ends the membership', { timeout: 30000 }, withStack(async (s) => {
  await s.start(owner);
  const early = await s.connect('cy');
  await s.group([{ action: 'add', userId: 'cy', groupName: 'now', ttl: 0 }, { action: 'add', userId: 'cy', groupName: 'brief', ttl: 1 }]);
  const late = await s.connect('cy');
  const list = async (groupName) => (await s.post('/api/manage', { action: 'listConnections', groupName })).json.results[0].connections.map((m) => m.connectionId).sort();
  assert.deepEqual(await list('now'), [early.id]);
  assert.deepEqual(await list('brief'), [early.id, late.id].sort());
  await until(async () => (await list('brief')).length === 0, 3000, 'the membership to end');

  const bad = await s.post('/api/groups', { action: 'remove', userId: 'cy', groupName: 'now', ttl: 5 });
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.json.error, /ttl applies to adding a user/);
}));
