#!/usr/bin/env node
// The site backend's side of `tessera rp serve` (COMMON HTTP contract, docs/RP.md):
//   node rp_api.mjs create --base URL --api-key-file F --dcql FILE.json [--flow cross_device|same_device]
//       POST /api/v1/transactions; prints the 201 answer (JSON)
//   node rp_api.mjs get --base URL --api-key-file F --tx ID [--wait S] [--response-code C]
//       GET /api/v1/transactions/ID?wait=S&response_code=C; prints the answer (JSON)
//   node rp_api.mjs site-login --base URL --cookie-file F [--flow same_device]
//       POST /site/login as the demo page's browser would; the cookies go to F
//   node rp_api.mjs site-status --base URL --cookie-file F [--wait S] [--response-code C]
//       GET /site/status with the cookies of F (and stores new ones)
// Exit 0 on a 2xx answer, 1 otherwise, 2 on usage errors.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from './lib.mjs';

const [cmd, ...rest] = process.argv.slice(2);
let args;
try {
  args = parseArgs(rest, {
    base: 'string', 'api-key-file': 'string', dcql: 'string', flow: 'string', tx: 'string', wait: 'string',
    'response-code': 'string', 'cookie-file': 'string',
  });
} catch (e) {
  process.stderr.write(`rp_api.mjs: ${e.message}\n`);
  process.exit(2);
}
const site = cmd === 'site-login' || cmd === 'site-status';
if (!args.base || !['create', 'get', 'site-login', 'site-status'].includes(cmd)
    || (site ? !args['cookie-file'] : !args['api-key-file'])) {
  process.stderr.write('usage: node rp_api.mjs create|get|site-login|site-status --base URL ...\n');
  process.exit(2);
}
if (site) {
  // the browser's cookie jar: name=value lines
  const jar = new Map();
  if (existsSync(args['cookie-file'])) {
    for (const l of readFileSync(args['cookie-file'], 'utf8').split('\n')) if (l.includes('=')) jar.set(l.split('=')[0], l);
  }
  const cookie = [...jar.values()].join('; ');
  let r;
  if (cmd === 'site-login') {
    r = await fetch(new URL('/site/login', args.base), {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: new URL(args.base).origin, ...(cookie ? { cookie } : {}) },
      body: JSON.stringify(args.flow ? { flow: args.flow } : {}),
    });
  } else {
    const u = new URL('/site/status', args.base);
    if (args.wait) u.searchParams.set('wait', args.wait);
    if (args['response-code']) u.searchParams.set('response_code', args['response-code']);
    r = await fetch(u, { headers: cookie ? { cookie } : {} });
  }
  for (const c of r.headers.getSetCookie()) {
    const kv = c.split(';')[0];
    jar.set(kv.split('=')[0], kv);
  }
  writeFileSync(args['cookie-file'], `${[...jar.values()].join('\n')}\n`);
  process.stdout.write(`${await r.text()}\n`);
  if (!r.ok) process.stderr.write(`rp_api.mjs: ${cmd}: HTTP ${r.status}\n`);
  process.exit(r.ok ? 0 : 1);
}
const key = readFileSync(args['api-key-file'], 'utf8').trim();
const headers = { authorization: `Bearer ${key}`, accept: 'application/json' };
let res;
if (cmd === 'create') {
  const body = {
    dcql_query: JSON.parse(readFileSync(args.dcql, 'utf8')),
    flow: args.flow ?? 'cross_device',
  };
  res = await fetch(new URL('/api/v1/transactions', args.base), {
    method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
} else {
  const u = new URL(`/api/v1/transactions/${encodeURIComponent(args.tx)}`, args.base);
  if (args.wait) u.searchParams.set('wait', args.wait);
  if (args['response-code']) u.searchParams.set('response_code', args['response-code']);
  res = await fetch(u, { headers });
}
const text = await res.text();
process.stdout.write(`${text}\n`);
if (!res.ok) process.stderr.write(`rp_api.mjs: ${cmd}: HTTP ${res.status}\n`);
process.exit(res.ok ? 0 : 1);
