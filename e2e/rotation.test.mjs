// Temporary key rotation with clients connected: the stand-in's keys live
// 4 s and the handler replaces its key every second (SIGNALR_KEY_REFRESH).
// Clients keep connecting and getting messages all along, new negotiations
// sign with the newest key, and a token signed with an older key still
// connects until that key expires at the service.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HubConnectionState } from '@microsoft/signalr';
import { drain, until, withStack } from './harness.mjs';

const KEY_LIFETIME_S = 4;

/** token decodes a negotiate reply's token: its kid's sequence number and iat. */
function token(info) {
  const [h, c] = info.accessToken.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
  const m = /^key-(\d+)-/.exec(h.kid);
  assert.ok(m, `kid ${h.kid} is not a temporary key of the stand-in`);
  return { kid: h.kid, seq: Number(m[1]), iat: c.iat };
}

test('key rotation keeps clients connected and negotiations working', { timeout: 60000 }, withStack(async (s) => {
  await s.start({
    emulatorFlags: ['-identity', 'system=ServiceOwner', '-key-lifetime', `${KEY_LIFETIME_S}s`],
    handlerEnv: { SIGNALR_KEY_REFRESH: '1s', SIGNALR_TOKEN_LIFETIME: '1m' },
  });

  const first = await s.negotiate('early');
  assert.equal(first.status, 200, first.text);
  const firstTok = token(first.json);
  const clients = [await s.connect('user-0')];

  // Once the handler has moved on to a newer key, the first token, signed
  // with the older one, still connects.
  await until(async () => {
    const r = await s.negotiate('probe');
    assert.equal(r.status, 200, r.text);
    return token(r.json).seq > firstTok.seq;
  }, 5000, 'the handler to rotate its key');
  const early = await s.connectWithToken(first.json, 'early token');
  clients.push(early);

  // For longer than a key lives: negotiate, connect a new client, and check
  // that every client connected so far gets a broadcast.
  const seqs = [firstTok.seq];
  const start = Date.now();
  for (let i = 1; Date.now() - start < (KEY_LIFETIME_S + 2) * 1000; i++) {
    const r = await s.negotiate(`user-${i}`);
    assert.equal(r.status, 200, `negotiate ${i} during rotation: ${r.text}`);
    const seq = token(r.json).seq;
    assert.ok(seq >= seqs.at(-1), `negotiate ${i} signed with key ${seq} after key ${seqs.at(-1)}: new negotiations must use the newest key`);
    seqs.push(seq);
    clients.push(await s.connect(`user-${i}`));
    const got = await drain(s, clients);
    assert.deepEqual(got, clients.map(() => []));
    await sleep(200);
  }

  assert.ok(new Set(seqs).size >= 4, `expected several keys over ${KEY_LIFETIME_S + 2}s with SIGNALR_KEY_REFRESH=1s, got key numbers ${[...new Set(seqs)]}`);
  assert.ok(await s.emulatorRequests('/api/v1/auth/accessKey') >= 4, 'the handler should have asked the auth API for each key');
  for (const c of clients) assert.equal(c.conn.state, HubConnectionState.Connected, `${c.user} should still be connected`);
  await s.send({ userId: 'user-0', target: 'newMessage', arguments: ['still there'] });
  await clients[0].waitFor('still there');

  // The first key has expired at the service by now: its token no longer
  // connects, while a fresh negotiate does.
  await until(() => Date.now() > (firstTok.iat + KEY_LIFETIME_S + 1.5) * 1000, 10000, 'the first key to expire');
  await assert.rejects(s.connectWithToken(first.json, 'expired key'), /signature key was not found/);
  const late = await s.negotiate('late');
  assert.equal(late.status, 200, late.text);
  await s.connectWithToken(late.json, 'late token');
}));
