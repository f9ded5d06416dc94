#!/usr/bin/env node
// Peer benchmark: @auth0/mdl verifying the DeviceResponse that tessera_bench wrote.
//
//   node bench.mjs --dir DIR [--seconds 3]
//
// DIR holds response.cbor, transcript.cbor (plain SessionTranscript) and roots.pem
// (the IACA roots; tessera's side of the comparison uses the same ones). The
// Verifier is built once (roots parsed once), then the same response is verified
// with the same transcript until --seconds of CPU time have passed. @auth0/mdl
// has no clock injection: the bench credentials are issued valid around now.
//
// Prints key=value lines: ops_per_cpu_s, ops_per_wall_s, n, mdl_version, node.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const mdl = require('@auth0/mdl');
const mdlVersion = require('@auth0/mdl/package.json').version;

const args = { seconds: '3' };
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!args.dir) {
  process.stderr.write('usage: node bench.mjs --dir DIR [--seconds S]\n');
  process.exit(2);
}

const response = new Uint8Array(readFileSync(`${args.dir}/response.cbor`));
const st = readFileSync(`${args.dir}/transcript.cbor`);
const roots = readFileSync(`${args.dir}/roots.pem`, 'utf8')
  .match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);

// SessionTranscriptBytes = #6.24(bstr .cbor SessionTranscript)
function head(major, len) {
  const m = major << 5;
  if (len < 24) return Buffer.from([m | len]);
  if (len < 0x100) return Buffer.from([m | 24, len]);
  if (len < 0x10000) { const b = Buffer.alloc(3); b[0] = m | 25; b.writeUInt16BE(len, 1); return b; }
  const b = Buffer.alloc(5); b[0] = m | 26; b.writeUInt32BE(len, 1); return b;
}
const encodedSessionTranscript = Buffer.concat([Buffer.from([0xd8, 0x18]), head(2, st.length), st]);

const verifier = new mdl.Verifier(roots);

// Once with every check reported: the response must be valid for @auth0/mdl.
const failed = [];
const m = await verifier.verify(response, {
  encodedSessionTranscript,
  onCheck: (c) => { if (c.status === 'FAILED') failed.push(c); },
});
const n0 = m.documents.reduce((s, d) => s + Object.values(d.issuerSigned.nameSpaces || {})
  .reduce((t, items) => t + items.length, 0), 0);
if (failed.length || m.documents.length !== 1 || n0 !== 10) {
  process.stderr.write(`@auth0/mdl rejects the bench response: ${JSON.stringify(failed)} (${n0} elements)\n`);
  process.exit(1);
}

async function once() {
  await verifier.verify(response, { encodedSessionTranscript }); // throws on any failed check
}

for (let i = 0; i < 20; i++) await once(); // warm-up (JIT)

const secs = Number(args.seconds);
const c0 = process.cpuUsage();
const w0 = process.hrtime.bigint();
let n = 0;
let cpu = 0;
do {
  for (let k = 0; k < 5; k++) await once();
  n += 5;
  const c = process.cpuUsage(c0);
  cpu = (c.user + c.system) / 1e6;
} while (cpu < secs);
const wall = Number(process.hrtime.bigint() - w0) / 1e9;

process.stdout.write(`ops_per_cpu_s=${(n / cpu).toFixed(2)}\n`);
process.stdout.write(`ops_per_wall_s=${(n / wall).toFixed(2)}\n`);
process.stdout.write(`n=${n}\n`);
process.stdout.write(`mdl_version=${mdlVersion}\n`);
process.stdout.write(`node=${process.version}\n`);
