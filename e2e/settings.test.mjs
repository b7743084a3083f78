// The handler refuses unusable app settings at start: it exits with status
// 1 and says on stderr (which the Functions host logs as errors) which
// setting is wrong, the bad value unless secret, and what would be valid.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withStack } from './harness.mjs';

const SECTION = 'AzureSignalRConnectionString';
const SECRET_KEY = 'c2VjcmV0LWFjY2Vzcy1rZXktbm90LXRvLWJlLXByaW50ZWQ=';

const cases = [
  {
    name: 'every problem at once',
    env: { SIGNALR_KEY_REFRESH: '90m', [`${SECTION}__type`]: 'tertiary' },
    want: [
      /SIGNALR_KEY_REFRESH: interval 1h30m0s is out of range\. Use a duration from 1s to 85m/,
      /AzureSignalRConnectionString__type: invalid endpoint type "tertiary"\. Valid values are primary and secondary/,
    ],
  },
  {
    name: 'no connection',
    env: { [`${SECTION}__serviceUri`]: null, [`${SECTION}__credential`]: null },
    want: [/AzureSignalRConnectionString: no SignalR Service connection found/],
  },
  {
    name: 'a bad connection string, without printing its key',
    env: { [`${SECTION}__serviceUri`]: null, [`${SECTION}__credential`]: null, [SECTION]: `Endpoint=ftp://127.0.0.1;AccessKey=${SECRET_KEY};Version=1.0;` },
    want: [/AzureSignalRConnectionString \(Endpoint\): scheme of "ftp:\/\/127\.0\.0\.1" is not http or https/],
  },
  {
    name: 'an invalid hub name',
    env: { SIGNALR_HUBS: 'chat,9news' },
    want: [/SIGNALR_HUBS: invalid hub name "9news"\. A hub name starts with a letter/],
  },
];

for (const c of cases) {
  test(`the handler refuses to start with ${c.name}`, { timeout: 30000 }, withStack(async (s) => {
    await s.startEmulator(['-identity', 'system=ServiceOwner']);
    const p = await s.startHandler(c.env, { wait: false });
    const { code } = await p.exited;
    assert.equal(code, 1, p.output);
    assert.match(p.output, /^handler: /m);
    for (const re of c.want) assert.match(p.output, re);
    assert.ok(!p.output.includes(SECRET_KEY), 'the error must not carry the access key');
  }));
}
