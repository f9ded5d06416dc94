#!/usr/bin/env node
// The site backend's side of `tessera rp serve` (COMMON HTTP contract, docs/RP.md):
//   node rp_api.mjs create --base URL --api-key-file F --dcql FILE.json [--flow cross_device|same_device]
//       POST /api/v1/transactions; prints the 201 answer (JSON)
//   node rp_api.mjs get --base URL --api-key-file F --tx ID [--wait S]
//       GET /api/v1/transactions/ID?wait=S; prints the answer (JSON)
// Exit 0 on a 2xx answer, 1 otherwise, 2 on usage errors.
import { readFileSync } from 'node:fs';
import { parseArgs } from './lib.mjs';

const [cmd, ...rest] = process.argv.slice(2);
let args;
try {
  args = parseArgs(rest, {
    base: 'string', 'api-key-file': 'string', dcql: 'string', flow: 'string', tx: 'string', wait: 'string',
  });
} catch (e) {
  process.stderr.write(`rp_api.mjs: ${e.message}\n`);
  process.exit(2);
}
if (!args.base || !args['api-key-file'] || !['create', 'get'].includes(cmd)) {
  process.stderr.write('usage: node rp_api.mjs create|get --base URL --api-key-file F ...\n');
  process.exit(2);
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
  res = await fetch(u, { headers });
}
const text = await res.text();
process.stdout.write(`${text}\n`);
if (!res.ok) process.stderr.write(`rp_api.mjs: ${cmd}: HTTP ${res.status}\n`);
process.exit(res.ok ? 0 : 1);
