// Every credential kind against every role, end to end: what works
// (negotiate, a client connecting with the token, a message, a group
// action) and, for the rest, the error callers get and the log line that
// says which role is missing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { TARGET, withStack } from './harness.mjs';

const run = promisify(execFile);

const TENANT = '7a1e0000-5e1f-4c0d-9a11-000000000001';
const OTHER_TENANT = '7a1e0000-5e1f-4c0d-9a11-0000000000ff';
const USER_MI = '5e11a551-0000-4000-8000-00000000a001';
const APP = 'a9900000-0000-4000-8000-00000000b001';
const SECRET = 'e2e-secret-value';
const SECTION = 'AzureSignalRConnectionString';

/** jwtHeader decodes a token's header without checking it. */
function jwtHeader(token) {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());
}

/** The emulator CLI names no role with "none". */
const roleFlag = (role) => role ?? 'none';

// Credential kinds: the stand-in's flags for a principal holding role, and
// the handler settings that pick that principal. who is how the handler's
// errors name it.
const kinds = {
  'system-assigned managed identity': {
    emulator: (role) => ['-identity', `system=${roleFlag(role)}`],
    handler: () => ({}),
    who: 'system-assigned managed identity',
  },
  'user-assigned managed identity': {
    // The system identity holds every role, to prove the user-assigned one is used.
    emulator: (role) => ['-identity', 'system=ServiceOwner', '-identity', `user:${USER_MI}=${roleFlag(role)}`],
    handler: () => ({ [`${SECTION}__clientId`]: USER_MI }),
    who: USER_MI,
  },
  'client secret': {
    emulator: (role) => ['-identity', 'system=ServiceOwner', '-app', `${APP}:${SECRET}=${roleFlag(role)}`],
    // The authority comes from AZURE_AUTHORITY_HOST of the env file.
    handler: () => ({
      [`${SECTION}__credential`]: null,
      [`${SECTION}__tenantId`]: TENANT,
      [`${SECTION}__clientId`]: APP,
      [`${SECTION}__clientSecret`]: SECRET,
    }),
    who: APP,
  },
  'client certificate': {
    setup: makeCertificate,
    emulator: (role, cert) => ['-identity', 'system=ServiceOwner', '-app-cert', `${APP}:${cert}=${roleFlag(role)}`],
    // The authority comes from the section's authorityHost key this time.
    handler: (env, cert) => ({
      [`${SECTION}__credential`]: null,
      AZURE_AUTHORITY_HOST: null,
      [`${SECTION}__authorityHost`]: env.AZURE_AUTHORITY_HOST,
      [`${SECTION}__tenantId`]: TENANT,
      [`${SECTION}__clientId`]: APP,
      [`${SECTION}__clientCertificatePath`]: cert,
    }),
    who: APP,
    secrets: privateKeyLine,
  },
};

// What each role allows the handler (its data actions:
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/web-and-mobile): signed locally with the
// temporary key (App Server, Service Owner), signed by the service
// (REST API Owner, through negotiate "auto"), REST calls (REST API Owner,
// Service Owner). missing is the log's account of a refused operation.
const NEGOTIATE_MISSING = /may neither get the temporary key nor ask the service to sign\. Assign it, on http:\/\/127\.0\.0\.1:\d+, the SignalR App Server or SignalR Service Owner role \(to sign locally\) or the SignalR REST API Owner role \(for tokens signed by the service\)/;
const REST_MISSING = /lacks the SignalR REST API Owner or SignalR Service Owner role on http:\/\/127\.0\.0\.1:\d+, needed to /;
const roles = {
  ServiceOwner: { negotiate: 'local', rest: true },
  AppServer: { negotiate: 'local', rest: false },
  RESTAPIOwner: { negotiate: 'service', rest: true },
  RESTAPIReader: { negotiate: false, rest: false },
  none: { negotiate: false, rest: false },
};

// The stand-in's kid for tokens it signs itself (:generateToken).
const SERVICE_KID = 'asrs-service';

/** makeCertificate writes a self-signed RSA certificate and key to one PEM file. */
async function makeCertificate(dir) {
  const key = join(dir, 'app.key'), crt = join(dir, 'app.crt'), pem = join(dir, 'app.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt,
    '-days', '1', '-subj', '/CN=signalr-e2e-app']);
  await writeFile(pem, (await readFile(crt, 'utf8')) + (await readFile(key, 'utf8')), { mode: 0o600 });
  return pem;
}

/**
 * privateKeyLine returns a line from the middle of the PEM file's private
 * key, which the handler must never print. (Its first line, "MII...", is
 * much the same in every key.)
 */
async function privateKeyLine(pem) {
  const lines = (await readFile(pem, 'utf8')).split('\n');
  const line = lines[lines.findIndex((l) => /^-----BEGIN .*PRIVATE KEY-----$/.test(l)) + 2];
  assert.match(line, /^[A-Za-z0-9+/]{64}$/, `no private key body in ${pem}`);
  return [line];
}

/**
 * refused asserts a 502 reply for a refusal by the service (negotiate's
 * error, or the failed item of a messages or groups request) and returns the
 * handler log's detailed error under the reply's correlation id.
 */
async function refused(s, r, status) {
  assert.equal(r.status, 502, r.text);
  const short = r.json.failed ? r.json.failed[0].error : r.json.error;
  if (r.json.failed) {
    assert.equal(r.json.error, 'SignalR Service did not accept 1 of 1 items');
    assert.deepEqual(r.json.accepted, []);
  }
  const why = status === 403
    ? 'SignalR Service refused the app (403): its identity lacks a role on the resource, or a network rule blocks it'
    : `SignalR Service did not accept the app's credentials (${status})`;
  assert.equal(short, `${why}; the function log has the details under this correlation id`);
  return (await s.logRecord(r.json.correlationId, 'ERROR')).error;
}

/**
 * exercise negotiates for a user, connects a real client with the token,
 * broadcasts to it and adds its user to a group, asserting what want says
 * works and what fails, and that the handler printed none of the secrets.
 */
async function exercise(s, want, who, extraSecrets = []) {
  const neg = await s.negotiate('alice');
  const secrets = [SECRET, ...extraSecrets];
  if (want.negotiate) {
    secrets.push(neg.json.accessToken);
    assert.equal(neg.status, 200, neg.text);
    const kid = jwtHeader(neg.json.accessToken).kid;
    if (want.negotiate === 'service') assert.equal(kid, SERVICE_KID, 'the service should have signed the token');
    else assert.match(kid, /^key-/, 'the handler should have signed with a temporary key');
  } else {
    const err = await refused(s, neg, 403);
    assert.match(err, NEGOTIATE_MISSING);
    assert.ok(err.includes(who), `the error should name ${who}: ${err}`);
    assert.match(err, /role assignments take up to 30 minutes/);
  }

  // The token works at the service: a real client connects with it.
  const client = want.negotiate ? await s.connect('alice') : undefined;

  const sent = await s.post('/api/messages', { target: TARGET, arguments: ['hello'] });
  const grouped = await s.post('/api/groups', { action: 'add', userId: 'alice', groupName: 'g' });
  if (want.rest) {
    assert.equal(sent.status, 202, sent.text);
    assert.equal(grouped.status, 202, grouped.text);
    if (client) await client.waitFor('hello');
    s.assertNoSecrets(secrets);
    return;
  }
  for (const [r, op] of [[sent, /needed to send to all\./], [grouped, /needed to add user to group\./]]) {
    const err = await refused(s, r, 403);
    assert.match(err, REST_MISSING);
    assert.match(err, op);
    assert.ok(err.includes(who), `the error should name ${who}: ${err}`);
  }
  s.assertNoSecrets(secrets);
}

for (const [kindName, kind] of Object.entries(kinds)) {
  for (const [role, want] of Object.entries(roles)) {
    const works = [want.negotiate && `negotiate (${want.negotiate})`, want.rest && 'messages and groups'].filter(Boolean);
    const name = `${kindName} with ${role}: ${works.length ? works.join(', ') : 'nothing'} works`;
    test(name, { timeout: 30000 }, withStack(async (s) => {
      const extra = kind.setup ? await kind.setup(s.dir) : undefined;
      const env = await s.startEmulator(kind.emulator(role === 'none' ? undefined : role, extra));
      await s.startHandler(kind.handler(env, extra));
      await exercise(s, want, kind.who, kind.secrets ? await kind.secrets(extra) : []);
    }));
  }
}

/** connectionString builds an access-key connection string for the stand-in. */
function connectionString(serviceURL, key) {
  const u = new URL(serviceURL);
  return `Endpoint=http://${u.hostname};Port=${u.port};AccessKey=${key};Version=1.0;`;
}

test('access key: negotiate, messages and groups work', { timeout: 30000 }, withStack(async (s) => {
  // No identity holds a role: the access key alone must do.
  const env = await s.startEmulator([]);
  await s.startHandler({
    [`${SECTION}__serviceUri`]: null,
    [`${SECTION}__credential`]: null,
    [SECTION]: env.SIGNALR_EMULATOR_CONNECTION_STRING,
  });
  const neg = await s.negotiate('alice');
  assert.equal(neg.status, 200, neg.text);
  assert.equal(neg.json.url, `${s.serviceURL}/client/?hub=chat`);
  assert.equal(await s.emulatorRequests('/api/v1/auth/accessKey'), 0, 'access-key mode needs no temporary key');
  const alice = await s.connect('alice');
  const bob = await s.connect('bob');
  assert.equal((await s.post('/api/groups', { action: 'add', userId: 'alice', groupName: 'g' })).status, 202);
  assert.equal((await s.post('/api/messages', { groupName: 'g', target: TARGET, arguments: ['to g'] })).status, 202);
  assert.equal((await s.post('/api/messages', { userId: 'bob', target: TARGET, arguments: ['to bob'] })).status, 202);
  await alice.waitFor('to g');
  await bob.waitFor('to bob');
  assert.deepEqual([alice.texts(), bob.texts()], [['to g'], ['to bob']]);
}));

test('access key with local auth disabled: clients and REST calls are refused, and the log says to switch to Entra ID', { timeout: 30000 }, withStack(async (s) => {
  const key = 'ZTJlLWxvY2FsLWF1dGgtZGlzYWJsZWQta2V5LXZhbHVlCg==';
  await s.startEmulator(['-access-key', key, '-local-auth-disabled']);
  await s.startHandler({
    [`${SECTION}__serviceUri`]: null,
    [`${SECTION}__credential`]: null,
    [SECTION]: connectionString(s.serviceURL, key),
  });
  // The handler signs locally and cannot know; the service refuses the token.
  const neg = await s.negotiate('alice');
  assert.equal(neg.status, 200, neg.text);
  await assert.rejects(s.connect('alice'), /401|Unauthorized/);

  const sent = await s.post('/api/messages', { target: TARGET, arguments: ['hello'] });
  const err = await refused(s, sent, 401);
  assert.match(err, /local authentication is disabled on the resource/);
  assert.match(err, /Switch to Microsoft Entra ID/);
  s.assertNoSecrets([key]);
}));

test('an app from another tenant: the service refuses its token and the log names the tenant to set', { timeout: 30000 }, withStack(async (s) => {
  await s.startEmulator(['-app', `${OTHER_TENANT}/${APP}:${SECRET}=ServiceOwner`]);
  await s.startHandler({
    [`${SECTION}__credential`]: null,
    [`${SECTION}__tenantId`]: OTHER_TENANT,
    [`${SECTION}__clientId`]: APP,
    [`${SECTION}__clientSecret`]: SECRET,
  });
  const sent = await s.post('/api/messages', { target: TARGET, arguments: ['hello'] });
  const err = await refused(s, sent, 401);
  assert.match(err, /refused the Microsoft Entra ID token .* comes from another tenant/);
  assert.match(err, new RegExp(`asked tenant ${OTHER_TENANT}`));
  assert.ok(err.includes(`Set ${SECTION}__tenantId to the tenant id of the SignalR resource`), err);
  const neg = await s.negotiate('alice');
  assert.equal(neg.status, 502, neg.text);
}));

test('a wrong client secret: the log says the credential failed, and no secret is printed', { timeout: 30000 }, withStack(async (s) => {
  await s.startEmulator(['-app', `${APP}:${SECRET}=ServiceOwner`]);
  await s.startHandler({
    [`${SECTION}__credential`]: null,
    [`${SECTION}__tenantId`]: TENANT,
    [`${SECTION}__clientId`]: APP,
    [`${SECTION}__clientSecret`]: 'not-the-secret',
  });
  const neg = await s.negotiate('alice');
  assert.equal(neg.status, 502, neg.text);
  assert.match(neg.json.error, /could not reach SignalR Service or get a token for it/);
  const rec = await s.logRecord(neg.json.correlationId, 'ERROR');
  assert.match(rec.error, /ClientSecretCredential with client id a9900000-0000-4000-8000-00000000b001 \(AzureSignalRConnectionString\) could not get a token/);
  assert.match(rec.error, /AADSTS7000215: Invalid client secret provided/);
  s.assertNoSecrets(['not-the-secret']);
}));

test('SIGNALR_NEGOTIATE=local with REST API Owner: negotiate names the roles that sign locally', { timeout: 30000 }, withStack(async (s) => {
  await s.start({ emulatorFlags: ['-identity', 'system=RESTAPIOwner'], handlerEnv: { SIGNALR_NEGOTIATE: 'local' } });
  const neg = await s.negotiate('alice');
  const err = await refused(s, neg, 403);
  assert.match(err, /system-assigned managed identity lacks the SignalR App Server or SignalR Service Owner role on http:\/\/127\.0\.0\.1:\d+, needed to get the temporary key that signs client tokens/);
  assert.equal(await s.emulatorRequests('/api/hubs/chat/:generateToken'), 0, 'local mode must not ask the service to sign');
  // REST calls carry the Entra token itself and still work.
  assert.equal((await s.post('/api/messages', { target: TARGET, arguments: ['x'] })).status, 202);
}));

test('SIGNALR_NEGOTIATE=service with Service Owner: the service signs the client tokens', { timeout: 30000 }, withStack(async (s) => {
  await s.start({ emulatorFlags: ['-identity', 'system=ServiceOwner'], handlerEnv: { SIGNALR_NEGOTIATE: 'service' } });
  const neg = await s.negotiate('alice');
  assert.equal(neg.status, 200, neg.text);
  assert.equal(jwtHeader(neg.json.accessToken).kid, SERVICE_KID);
  assert.equal(await s.emulatorRequests('/api/hubs/chat/:generateToken'), 1);
  const alice = await s.connect('alice');
  await s.send({ userId: 'alice', target: TARGET, arguments: ['signed by the service'] });
  await alice.waitFor('signed by the service');
}));

test('SIGNALR_NEGOTIATE=service with REST API Owner: no auth API call, no warning about its role', { timeout: 30000 }, withStack(async (s) => {
  await s.start({ emulatorFlags: ['-identity', 'system=RESTAPIOwner'], handlerEnv: { SIGNALR_NEGOTIATE: 'service' } });
  const neg = await s.negotiate('alice');
  assert.equal(neg.status, 200, neg.text);
  assert.equal(jwtHeader(neg.json.accessToken).kid, SERVICE_KID);
  const alice = await s.connect('alice');
  await s.send({ userId: 'alice', target: TARGET, arguments: ['signed by the service'] });
  await alice.waitFor('signed by the service');

  // Stopped, the handler can make no more calls and its whole log is in:
  // nothing a background key fetch did can come later.
  await s.handler.stop();
  assert.equal(await s.emulatorRequests('/api/v1/auth/accessKey'), 0, 'service mode needs no temporary key');
  assert.equal(await s.emulatorRequests('/api/hubs/chat/:generateToken'), 2, 'the service signs for negotiate and for the client');
  assert.doesNotMatch(s.handler.output, /lacks the SignalR App Server/);
  const warnings = s.handlerLog().filter((l) => l.level === 'WARN' || l.level === 'ERROR');
  assert.deepEqual(warnings, []);
}));
