#!/usr/bin/env node
// Verify an ISO/IEC 18013-5 DeviceResponse with @auth0/mdl's Verifier.
//
// usage: node verify.mjs --response response.cbor --trust root.pem --transcript st.cbor
//                        [--ereader-key ereader.pem] [--at ISO-TIME]
//
//   --response     DeviceResponse (CBOR)
//   --trust        IACA root certificate(s), PEM (several may be concatenated)
//   --transcript   SessionTranscript: either the plain CBOR array or the
//                  tag-24 wrapped SessionTranscriptBytes; both are accepted
//   --ereader-key  reader ephemeral private key (PKCS#8 PEM, P-256); needed only
//                  when the response uses device MAC authentication
//   --at           evaluation time (RFC 3339). @auth0/mdl has no clock option: it
//                  calls `new Date()` itself (MSO validity) and pkijs does the
//                  same for the certificate chain, so this script replaces the
//                  global Date for the run.
//
// Prints one JSON object:
//   {"valid": bool, "error": string|null, "docType": string|null,
//    "elements": {ns: {elem: value}}, "types": {ns: {elem: cbor-kind}},
//    "failedChecks": [...]}
// Element values in JSON: full-date (tag 1004) -> "YYYY-MM-DD", tdate -> RFC 3339
// string, bstr -> base64url without padding, maps -> objects (see lib.mjs).
// "types" gives the CBOR kind ("tstr", "bool", "full-date", "bstr", ...).
// Exit code: 0 valid, 1 invalid, 2 usage error.
import { readFileSync } from 'node:fs';
import { require, parseArgs, loadMdl, cborTag24, unwrapTag24, toJsonValue, cborKind, privatePemToJwk } from './lib.mjs';

function usage(msg) {
  process.stderr.write(`verify.mjs: ${msg}\n` +
    'usage: node verify.mjs --response response.cbor --trust root.pem --transcript st.cbor ' +
    '[--ereader-key ereader.pem] [--at ISO-TIME]\n');
  process.exit(2);
}

let args;
try {
  args = parseArgs(process.argv.slice(2), {
    response: 'string', trust: 'string', transcript: 'string', 'ereader-key': 'string', at: 'string',
  });
} catch (e) {
  usage(e.message);
}
for (const k of ['response', 'trust', 'transcript']) if (!args[k]) usage(`--${k} is required`);

if (args.at) {
  const fixed = Date.parse(args.at);
  if (Number.isNaN(fixed)) usage(`--at: not a date-time: ${args.at}`);
  const RealDate = Date;
  class FixedDate extends RealDate {
    constructor(...a) {
      if (a.length === 0) super(fixed); else super(...a);
    }
    static now() { return fixed; }
  }
  globalThis.Date = FixedDate;
}

function finish(result) {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.exit(result.valid ? 0 : 1);
}

const result = { valid: false, error: null, docType: null, elements: {}, types: {}, failedChecks: [] };

try {
  const mdl = loadMdl();
  const response = readFileSync(args.response);
  const trustPem = readFileSync(args.trust, 'utf8');
  const roots = trustPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  if (!roots) throw new Error(`no certificate in ${args.trust}`);

  // @auth0/mdl wants `encodedSessionTranscript` = SessionTranscriptBytes, i.e.
  // #6.24(bstr .cbor SessionTranscript). It decodes it to rebuild
  // DeviceAuthentication and hashes it (as is) for the EMacKey HKDF salt.
  const st = readFileSync(args.transcript);
  const inner = unwrapTag24(st);
  const sessionTranscriptBytes = inner ? Buffer.from(st) : cborTag24(st);
  if (!inner && (st[0] >> 5) !== 4) throw new Error('transcript is neither a CBOR array nor a tag-24 wrapped one');

  const options = {
    encodedSessionTranscript: sessionTranscriptBytes,
    onCheck: (check) => {
      if (check.status === 'FAILED') result.failedChecks.push(check);
    },
  };
  if (args['ereader-key']) {
    const { COSEKeyFromJWK } = require('cose-kit');
    const jwk = await privatePemToJwk(readFileSync(args['ereader-key'], 'utf8'));
    options.ephemeralReaderKey = COSEKeyFromJWK(jwk);
  }

  const verifier = new mdl.Verifier(roots);
  const mdoc = await verifier.verify(new Uint8Array(response), options);

  for (const doc of mdoc.documents) {
    result.docType = result.docType ?? doc.docType;
    for (const [ns, items] of Object.entries(doc.issuerSigned.nameSpaces || {})) {
      result.elements[ns] = result.elements[ns] || {};
      result.types[ns] = result.types[ns] || {};
      for (const item of items) {
        result.elements[ns][item.elementIdentifier] = toJsonValue(item.elementValue, mdl);
        result.types[ns][item.elementIdentifier] = cborKind(item.elementValue);
      }
    }
  }
  if (mdoc.documents.length === 0) result.failedChecks.push({ status: 'FAILED', check: 'no documents' });
  if (result.failedChecks.length === 0) {
    result.valid = true;
  } else {
    const f = result.failedChecks[0];
    result.error = f.reason ? `${f.check}: ${f.reason}` : f.check;
  }
} catch (e) {
  result.valid = false;
  result.error = `${e.name || 'Error'}: ${e.message}`;
}
finish(result);
