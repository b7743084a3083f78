// Negotiate for users the app signs in itself: a real @microsoft/signalr
// client whose accessTokenFactory returns a user token from the stand-in's
// authority. With SIGNALR_NEGOTIATE_AUTHORITY set, negotiate requires such
// a token, takes the user id from it alone and copies SIGNALR_CLAIM_TYPES
// from it; anything else gets 401 with WWW-Authenticate: Bearer and no
// detail, the reason going to the log.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { test } from 'node:test';
import { HubConnectionBuilder, HttpTransportType } from '@microsoft/signalr';
import { TARGET, USER_HEADER, until, withStack } from './harness.mjs';

const AUDIENCE = 'api://chat';
const signIn = {
  emulatorFlags: ['-identity', 'system=ServiceOwner', '-sign-in-audience', AUDIENCE],
  // The harness trusts a user id header by default; sign-in refuses one.
  handlerEnv: { SIGNALR_USERID_HEADER: null, SIGNALR_CLAIM_TYPES: 'name,roles' },
};

/** jwtClaims decodes a token's claims without checking it. */
function jwtClaims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

/**
 * userToken signs a user in at the stand-in's authority (its test
 * endpoint, over https with the stand-in's CA) and returns the token.
 */
async function userToken(env, user, { audience = AUDIENCE, claims } = {}) {
  const url = env.SIGNALR_NEGOTIATE_AUTHORITY.replace(/\/v2\.0$/, '/emulator/user-token');
  const form = new URLSearchParams({ user, audience });
  if (claims) form.set('claims', JSON.stringify(claims));
  const ca = await readFile(env.SSL_CERT_FILE);
  const text = await new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => { body += c; }).on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`user-token answered ${res.statusCode}: ${body}`));
        else resolve(body);
      });
    });
    req.on('error', reject);
    req.end(form.toString());
  });
  return JSON.parse(text).access_token;
}

/** connect starts a real client that signs in with accessTokenFactory. */
async function connect(stack, token) {
  const got = [];
  const conn = new HubConnectionBuilder()
    .withUrl(`${stack.url}/api`, { transport: HttpTransportType.WebSockets, accessTokenFactory: () => token })
    .build();
  conn.on(TARGET, (text) => got.push(text));
  stack.clients.push({ conn });
  await conn.start();
  return { conn, got };
}

test('a client signed in with accessTokenFactory gets its user id and claims from the token', withStack(async (s) => {
  await s.start(signIn);
  const env = s.emulatorEnv;
  const alice = await userToken(env, 'alice', { claims: { roles: ['reader', 'writer'] } });
  const sub = jwtClaims(alice).sub;

  // Negotiate as @microsoft/signalr calls it: the user id is the token's sub.
  const r = await s.post('/api/negotiate?negotiateVersion=1', undefined, { authorization: `Bearer ${alice}` });
  assert.equal(r.status, 200, r.text);
  const claims = jwtClaims(r.json.accessToken);
  assert.equal(claims['asrs.s.uid'], sub);
  assert.equal(claims.name, 'alice');
  assert.deepEqual(claims.roles, ['reader', 'writer']);
  assert.equal(claims.scp, undefined, 'a claim type not listed in SIGNALR_CLAIM_TYPES was copied');

  // A header naming someone else changes nothing.
  const spoof = await s.post('/api/negotiate', undefined, { authorization: `Bearer ${alice}`, [USER_HEADER]: 'mallory' });
  assert.equal(jwtClaims(spoof.json.accessToken)['asrs.s.uid'], sub);

  // The real client: a message to the token's user reaches it.
  const c = await connect(s, alice);
  await s.send({ target: TARGET, userId: sub, arguments: ['for alice'] });
  await until(() => c.got.includes('for alice'), 5000, 'alice to receive her message');
}));

test('negotiate refuses a missing or bad token with 401 and WWW-Authenticate: Bearer, saying why only in the log', withStack(async (s) => {
  await s.start(signIn);
  const env = s.emulatorEnv;
  const expired = await userToken(env, 'bob', { claims: { exp: Math.floor(Date.now() / 1000) - 3600 } });
  const otherAudience = await userToken(env, 'bob', { audience: 'api://other' });
  const good = await userToken(env, 'bob');
  const [h, , sig] = good.split('.');
  const forged = [h, Buffer.from(JSON.stringify({ ...jwtClaims(good), sub: 'admin' })).toString('base64url'), sig].join('.');
  const cases = {
    'no token': {},
    'a user id header alone': { [USER_HEADER]: 'bob' },
    'an expired token': { authorization: `Bearer ${expired}` },
    'a token for another audience': { authorization: `Bearer ${otherAudience}` },
    'a token whose claims were changed': { authorization: `Bearer ${forged}` },
    'not a token': { authorization: 'Bearer not.a.token' },
    'another scheme': { authorization: `Basic ${Buffer.from('bob:pw').toString('base64')}` },
  };
  for (const [name, headers] of Object.entries(cases)) {
    const r = await s.post('/api/negotiate', undefined, headers);
    assert.equal(r.status, 401, `${name}: ${r.status} ${r.text}`);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer\b/, `${name}: WWW-Authenticate`);
    assert.doesNotMatch(r.text, /expired|audience|signature|malformed|key/i, `${name}: the reply says why: ${r.text}`);
    assert.equal(r.json?.accessToken, undefined);
  }
  // The log names each kind of refusal once, and never quotes a token.
  const refusals = await until(() => {
    const recs = s.handlerLog().filter((l) => /sign-in token/.test(l.msg ?? ''));
    return recs.length >= 5 && recs;
  }, 3000, 'the refusals in the log');
  const reasons = refusals.map((l) => l.reason);
  assert.equal(new Set(reasons).size, reasons.length, `a kind logged twice: ${reasons}`);
  for (const want of ['token missing', 'token expired', 'token audience', 'token signature', 'token malformed']) {
    assert(reasons.includes(want), `no log record of ${want}: ${reasons}`);
  }
  s.assertNoSecrets([expired.split('.')[2], otherAudience.split('.')[2], sig]);

  // The real client's start fails with the 401.
  await assert.rejects(connect(s, expired), /401|Unauthorized/);
  // The same client with a sound token gets in.
  await connect(s, good);
}));

// Through the Functions host's rule: the host stand-in hands negotiate to
// the handler proxied (host.json as shipped) or as a payload (proxying
// off); either way the caller's Authorization header reaches the check,
// and the 401 with its challenge reaches the caller.
for (const { name, proxying, mode } of [
  { name: 'host.json as shipped', proxying: '', mode: 'proxied' },
  { name: 'proxying off', proxying: 'off', mode: 'payload' },
]) {
  test(`${name}: sign-in through the host`, { timeout: 30000 }, withStack(async (s) => {
    await s.startEmulator(signIn.emulatorFlags);
    await s.startHandler({ ...signIn.handlerEnv, FUNCTIONS_WORKER_RUNTIME: 'custom' });
    await s.startHost({ proxying });
    assert.equal(s.modes.negotiate, mode);
    const env = s.emulatorEnv;
    const dave = await userToken(env, 'dave');
    const c = await connect(s, dave);
    const sub = jwtClaims(dave).sub;
    await s.send({ target: TARGET, userId: sub, arguments: [`for dave, ${mode}`] });
    await until(() => c.got.includes(`for dave, ${mode}`), 5000, 'dave to receive his message');

    const r = await s.post('/api/negotiate', undefined, { [USER_HEADER]: sub });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    const bad = await s.post('/api/negotiate', undefined, { authorization: 'Bearer x.y.z' });
    assert.equal(bad.status, 401, bad.text);
    assert.equal(bad.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
  }));
}
