#!/usr/bin/env node
// Inputs for the tessera -> @auth0/mdl direction, and the Annex D vector files.
//
// usage: node mkinputs.mjs --claims claims.json --transcript st.cbor --expected expected.json
//        node mkinputs.mjs --annexd VECTOR_DIR --out DIR
//
// --transcript writes the SessionTranscript as the plain CBOR array
//   [null, null, ["tessera-interop", <16 random bytes>]] encoded with cbor-x
//   (the CBOR library @auth0/mdl uses).
// --annexd converts the ISO 18013-5 Annex D hex vectors to files verify.mjs takes:
//   device_response.cbor, session_transcript.cbor (tag-24 wrapped, as published),
//   iaca.pem, ereader_key.pem (PKCS#8).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs, loadCbor, openssl } from './lib.mjs';

let args;
try {
  args = parseArgs(process.argv.slice(2), {
    claims: 'string', transcript: 'string', expected: 'string', annexd: 'string', out: 'string',
  });
} catch (e) {
  process.stderr.write(`mkinputs.mjs: ${e.message}\n`);
  process.exit(2);
}

const NS = 'org.iso.18013.5.1';

if (args.claims) {
  // a small JPEG-looking byte string (SOI, APP0/JFIF, filler, EOI)
  const portrait = Buffer.concat([
    Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'),
    randomBytes(200),
    Buffer.from('ffd9', 'hex'),
  ]);
  const claims = {
    [NS]: {
      family_name: 'Mustermann',
      given_name: 'Erika',
      birth_date: '1964-08-12',
      issue_date: '2024-01-01',
      expiry_date: '2034-01-01',
      issuing_country: 'UT',
      issuing_authority: 'Utopia',
      document_number: 'T22000129',
      portrait: portrait.toString('base64url'),
      driving_privileges: [],
      un_distinguishing_sign: 'UTO',
      age_over_18: true,
    },
  };
  writeFileSync(args.claims, `${JSON.stringify(claims, null, 2)}\n`);
}
if (args.expected) {
  const expected = {
    docType: 'org.iso.18013.5.1.mDL',
    elements: { [NS]: { family_name: 'Mustermann', age_over_18: true, birth_date: '1964-08-12' } },
    types: { [NS]: { family_name: 'tstr', age_over_18: 'bool', birth_date: 'full-date' } },
  };
  writeFileSync(args.expected, `${JSON.stringify(expected, null, 2)}\n`);
}
if (args.transcript) {
  const cbor = loadCbor();
  const st = cbor.encode([null, null, ['tessera-interop', new Uint8Array(randomBytes(16))]]);
  writeFileSync(args.transcript, st);
}
if (args.annexd) {
  if (!args.out) { process.stderr.write('mkinputs.mjs: --annexd needs --out\n'); process.exit(2); }
  mkdirSync(args.out, { recursive: true });
  const hex = (n) => Buffer.from(readFileSync(join(args.annexd, `${n}.hex`), 'utf8').trim(), 'hex');
  writeFileSync(join(args.out, 'device_response.cbor'), hex('device_response'));
  writeFileSync(join(args.out, 'session_transcript.cbor'), hex('session_transcript_bytes'));
  writeFileSync(join(args.out, 'iaca.der'), hex('iaca_root_cert.der'));
  openssl(['x509', '-inform', 'DER', '-in', join(args.out, 'iaca.der'), '-out', join(args.out, 'iaca.pem')]);
  const jwk = {
    kty: 'EC', crv: 'P-256',
    x: hex('ereader_key_x').toString('base64url'),
    y: hex('ereader_key_y').toString('base64url'),
    d: hex('ereader_key_d').toString('base64url'),
  };
  const key = await globalThis.crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
  const der = Buffer.from(await globalThis.crypto.subtle.exportKey('pkcs8', key));
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  writeFileSync(join(args.out, 'ereader_key.pem'), `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`);
}
