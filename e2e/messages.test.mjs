// Messages and groups, end to end: real @microsoft/signalr clients negotiate
// through the handler and connect to the stand-in; SignalRMessage and
// SignalRGroupAction JSON posted to the handler must reach exactly the
// clients it names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HUB, TARGET, drain, withStack } from './harness.mjs';

// The stand-in's system-assigned identity may do everything.
const owner = { emulatorFlags: ['-identity', 'system=ServiceOwner'] };

const msg = (text, to = {}) => ({ ...to, target: TARGET, arguments: [text] });

/** jwtClaims decodes a token's claims without checking it. */
function jwtClaims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

test('negotiate answers the service URL and a token for the user', { timeout: 30000 }, withStack(async (s) => {
  await s.start(owner);
  const r = await s.negotiate('alice');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.equal(r.json.url, `${s.serviceURL}/client/?hub=${HUB}`);
  const claims = jwtClaims(r.json.accessToken);
  assert.equal(claims['asrs.s.uid'], 'alice');
  // The audience has no port, though the url keeps it (Azure/azure-signalr,
  // DefaultServiceEndpointGenerator.GetClientAudience).
  assert.equal(claims.aud, `http://127.0.0.1/client/?hub=${HUB}`);

  const anon = await s.negotiate();
  assert.equal(anon.status, 200, anon.text);
  assert.equal(jwtClaims(anon.json.accessToken)['asrs.s.uid'], undefined);

  const other = await s.post('/api/negotiate?hub=news');
  assert.equal(other.status, 404, other.text);
  assert.match(other.json.error, /hub "news" is not served here; the hubs are chat \(SIGNALR_HUBS\)/);
}));

test('broadcast, user and connection messages reach exactly their clients', { timeout: 30000 }, withStack(async (s) => {
  await s.start(owner);
  const alice1 = await s.connect('alice');
  const alice2 = await s.connect('alice', { hub: HUB });
  const bob = await s.connect('bob');
  const anon = await s.connect();
  const all = [alice1, alice2, bob, anon];

  await s.send(msg('to everyone'));
  assert.deepEqual(await drain(s, all), [['to everyone'], ['to everyone'], ['to everyone'], ['to everyone']]);

  await s.send(msg('to alice', { userId: 'alice' }));
  assert.deepEqual(await drain(s, all), [['to alice'], ['to alice'], [], []]);

  await s.send(msg('to bob', { connectionId: bob.id }));
  await s.send(msg('to alice2', { connectionId: alice2.id }));
  assert.deepEqual(await drain(s, all), [[], ['to alice2'], ['to bob'], []]);

  // A user nobody is connected as gets nothing, and that is no error.
  await s.send(msg('to carol', { userId: 'carol' }));
  assert.deepEqual(await drain(s, all), [[], [], [], []]);

  // An array is sent item by item, in order; the reply lists them, and
  // where each went.
  const r = await s.send([msg('first', { userId: 'bob' }), msg('second'), msg('third', { userId: 'bob' })]);
  const took = (index) => ({ index, took: [s.serviceURL.replace(/\/$/, '')], failed: [], skipped: [] });
  assert.deepEqual(r.json, { accepted: [0, 1, 2], routes: [took(0), took(1), took(2)] });
  assert.deepEqual(await drain(s, all), [['second'], ['second'], ['first', 'second', 'third'], ['second']]);

  // Arguments keep their JSON types.
  await s.send({ userId: 'bob', target: TARGET, arguments: ['typed', 42, { a: [true, null] }] });
  await bob.waitFor('typed');
  assert.deepEqual(bob.got.at(-1), ['typed', 42, { a: [true, null] }]);
}));

test('group actions by user and by connection change who gets group messages', { timeout: 30000 }, withStack(async (s) => {
  await s.start(owner);
  const alice1 = await s.connect('alice');
  const alice2 = await s.connect('alice');
  const bob = await s.connect('bob');
  const carol = await s.connect('carol');
  const all = [alice1, alice2, bob, carol];
  const toGroup = (text) => s.send(msg(text, { groupName: 'g1' }));

  await toGroup('empty group');
  assert.deepEqual(await drain(s, all), [[], [], [], []]);

  // A user in a group: all of the user's connections, and later ones too.
  await s.group({ action: 'add', userId: 'alice', groupName: 'g1' });
  await toGroup('alice added');
  assert.deepEqual(await drain(s, all), [['alice added'], ['alice added'], [], []]);
  const alice3 = await s.connect('alice');
  all.push(alice3);
  await toGroup('alice3 too');
  assert.deepEqual(await drain(s, all), [['alice3 too'], ['alice3 too'], [], [], ['alice3 too']]);

  // A connection in a group: only that connection. Action names ignore case.
  await s.group({ action: 'Add', connectionId: bob.id, groupName: 'g1' });
  await toGroup('bob added');
  assert.deepEqual(await drain(s, all), [['bob added'], ['bob added'], ['bob added'], [], ['bob added']]);

  // Other groups are apart.
  await s.group([{ action: 'add', userId: 'carol', groupName: 'g2' }]);
  await s.send(msg('to g2', { groupName: 'g2' }));
  assert.deepEqual(await drain(s, all), [[], [], [], ['to g2'], []]);

  await s.group({ action: 'remove', userId: 'alice', groupName: 'g1' });
  await toGroup('alice removed');
  assert.deepEqual(await drain(s, all), [[], [], ['alice removed'], [], []]);

  await s.group({ action: 'remove', connectionId: bob.id, groupName: 'g1' });
  await toGroup('bob removed');
  assert.deepEqual(await drain(s, all), [[], [], [], [], []]);

  // removeAll takes a user, or a connection, out of every group.
  await s.group([
    { action: 'add', userId: 'alice', groupName: 'g1' },
    { action: 'add', userId: 'alice', groupName: 'g2' },
    { action: 'add', connectionId: bob.id, groupName: 'g1' },
    { action: 'add', connectionId: bob.id, groupName: 'g2' },
  ]);
  await s.group({ action: 'removeAll', userId: 'alice' });
  await s.send([msg('g1 after alice left', { groupName: 'g1' }), msg('g2 after alice left', { groupName: 'g2' })]);
  assert.deepEqual(await drain(s, all), [[], [], ['g1 after alice left', 'g2 after alice left'], ['g2 after alice left'], []]);
  await s.group({ action: 'removeAll', connectionId: bob.id });
  await s.send([msg('g1 after bob left', { groupName: 'g1' }), msg('g2 after bob left', { groupName: 'g2' })]);
  assert.deepEqual(await drain(s, all), [[], [], [], ['g2 after bob left'], []]);
}));

test('excluded connections get nothing from a broadcast or a group send; excluded with a user or connection is refused', { timeout: 30000 }, withStack(async (s) => {
  await s.start(owner);
  const alice1 = await s.connect('alice');
  const alice2 = await s.connect('alice');
  const bob = await s.connect('bob');
  const anon = await s.connect();
  const all = [alice1, alice2, bob, anon];

  // Broadcast: the excluded connection, not its user's other one, misses it.
  await s.send(msg('all but alice1', { excluded: [alice1.id] }));
  assert.deepEqual(await drain(s, all), [[], ['all but alice1'], ['all but alice1'], ['all but alice1']]);
  await s.send(msg('all but alice2 and bob', { excluded: [alice2.id, bob.id] }));
  assert.deepEqual(await drain(s, all), [['all but alice2 and bob'], [], [], ['all but alice2 and bob']]);
  // An id no one has leaves no one out.
  await s.send(msg('none left out', { excluded: ['no-such-connection'] }));
  assert.deepEqual(await drain(s, all), [['none left out'], ['none left out'], ['none left out'], ['none left out']]);

  // Group send: members but the excluded; non-members stay out either way.
  await s.group([{ action: 'add', userId: 'alice', groupName: 'g' }, { action: 'add', connectionId: bob.id, groupName: 'g' }]);
  await s.send(msg('g but alice2', { groupName: 'g', excluded: [alice2.id] }));
  assert.deepEqual(await drain(s, all), [['g but alice2'], [], ['g but alice2'], []]);
  await s.send(msg('g but bob', { groupName: 'g', excluded: [bob.id, anon.id] }));
  assert.deepEqual(await drain(s, all), [['g but bob'], ['g but bob'], [], []]);

  // excluded with userId or connectionId: the whole request is refused and
  // nothing is sent, not even its valid items.
  for (const to of [{ userId: 'alice' }, { connectionId: bob.id }]) {
    const r = await s.post('/api/messages', [msg('valid first'), msg('refused', { ...to, excluded: [alice1.id] })]);
    assert.equal(r.status, 400, `${JSON.stringify(to)}: ${r.text}`);
    assert.match(r.json.error, /message 1: excluded applies to a group or to everyone, not with connectionId or userId/);
    assert.match(r.json.correlationId, /^[0-9a-f]{32}$/);
  }
  assert.deepEqual(await drain(s, all), [[], [], [], []]);
}));

test('bad requests to messages and groups are refused with the reason', { timeout: 30000 }, withStack(async (s) => {
  await s.start(owner);
  const cases = [
    { path: '/api/messages', body: undefined, status: 400, error: /body is empty/ },
    { path: '/api/messages', body: { arguments: ['x'] }, status: 400, error: /target/ },
    { path: '/api/messages', body: [msg('ok'), { target: '' }], status: 400, error: /\b1\b.*target|target.*\b1\b/ },
    { path: '/api/groups', body: { action: 'join', userId: 'a', groupName: 'g' }, status: 400, error: /action/ },
    { path: '/api/groups', body: { action: 'add', groupName: 'g' }, status: 400, error: /userId|connectionId/ },
    { path: '/api/groups', body: { action: 'add', userId: 'a' }, status: 400, error: /groupName/ },
    { path: '/api/messages?hub=news', body: msg('x'), status: 404, error: /SIGNALR_HUBS/ },
  ];
  for (const c of cases) {
    const r = await s.post(c.path, c.body);
    assert.equal(r.status, c.status, `${c.path} ${JSON.stringify(c.body)}: ${r.text}`);
    assert.match(r.json.error, c.error, `${c.path} ${JSON.stringify(c.body)}`);
    assert.match(r.json.correlationId, /^[0-9a-f]{32}$/);
  }
  const get = await fetch(`${s.url}/api/messages`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get('allow'), 'POST');
}));
