#!/usr/bin/env node
// An independent OpenID4VP 1.0 verifier for the interop test: the
// openwallet-foundation-labs @openid4vc/openid4vp Openid4vpVerifier creates
// the signed authorization request (JAR by reference, HAIP: x509_san_dns or
// x509_hash client id, direct_post.jwt, an ephemeral P-256 ECDH-ES key in
// client_metadata, a DCQL query for the PID) and parses the encrypted
// response; @owf/mdoc verifies every DeviceResponse (issuer chain to the
// given IACA roots, MSO digests and validity, device signature over the
// OpenID4VP SessionTranscript of OpenID4VP 1.0 Appendix B.2.6.1, the match
// against the query, key authorizations of device-signed elements).
//
// Serves on 127.0.0.1 (node:http):
//   GET  /oid4vp/request/<tx>    the request object (application/oauth-authz-req+jwt)
//   POST /oid4vp/response/<tx>   response=<JWE> or error=...; answers {} (or
//                                {"redirect_uri"} with --same-device), 400 on failure
// and exits after the first response (or --timeout seconds).
//
// usage: node oid4vp_verifier.mjs --key RP_KEY.pem --cert RP_CHAIN.pem --iaca IACA.pem
//          --url-file F [--port-file F] [--host localhost] [--prefix x509_san_dns|x509_hash]
//          [--dcql FILE.json] [--enc A128GCM|A256GCM[,..]] [--same-device] [--timeout S]
//          [--transcript-file F] [--no-status]
//          [--base URL --request-out FILE]   only write the request object (URLs under
//                                            URL) to FILE and exit; nothing is served
//   --no-status  do not check the credential's status list (see the note in run.sh)
//
// Writes the openid4vp:// URL to --url-file once listening. Prints one JSON
// object {"ok", "error", "claims": {ns: {elem: value}}, "device_signed":
// {ns: {elem: value}}, "doctype", "jwe_header", "wallet_error"?}; exit 0
// when a response verified, 1 otherwise, 2 on usage errors.
import { createServer } from 'node:http';
import { writeFileSync, readFileSync } from 'node:fs';
import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { Openid4vpVerifier } from '@openid4vc/openid4vp';
import { calculateX509HashClientIdPrefixValue } from '@openid4vc/openid4vp';
import { setGlobalConfig } from '@openid4vc/utils';
import { DeviceResponse, SessionTranscript, Verifier } from '@owf/mdoc';
import { parseArgs } from './lib.mjs';
import {
  pemCerts, pemPrivateJwk, b64, b64u, fromB64u, mdocContext, oid4vcCallbacks,
  dcqlToDeviceRequest, jsonValue,
} from './oid4vp_common.mjs';

function usage(msg) {
  process.stderr.write(`oid4vp_verifier.mjs: ${msg}\n`);
  process.exit(2);
}
let args;
try {
  args = parseArgs(process.argv.slice(2), {
    key: 'string', cert: 'string', iaca: 'string', 'url-file': 'string', 'port-file': 'string',
    host: 'string', prefix: 'string', dcql: 'string', enc: 'string', 'same-device': 'bool',
    timeout: 'string', 'transcript-file': 'string', base: 'string', 'request-out': 'string',
    'no-status': 'bool',
  });
} catch (e) {
  usage(e.message);
}
for (const k of ['key', 'cert', 'iaca', 'url-file']) if (!args[k]) usage(`--${k} is required`);
const host = args.host ?? 'localhost';
const prefix = args.prefix ?? 'x509_san_dns';
if (!['x509_san_dns', 'x509_hash'].includes(prefix)) usage('--prefix must be x509_san_dns or x509_hash');
const encValues = (args.enc ?? 'A128GCM,A256GCM').split(',');
const timeout = Number(args.timeout ?? 120);

const result = { ok: false, error: null, claims: {}, device_signed: {}, doctype: null, jwe_header: null };
const log = (m) => process.stderr.write(`verifier: ${m}\n`);
let server;
const finish = (code) => {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (server) server.close();
  process.exit(code ?? (result.ok ? 0 : 1));
};
setTimeout(() => { result.error = `no response within ${timeout} s`; finish(1); }, timeout * 1000).unref();

// The response_uri is http on loopback in this test.
setGlobalConfig({ allowInsecureUrls: true });

const chain = pemCerts(args.cert);
const iaca = pemCerts(args.iaca);
const signKeyJwk = pemPrivateJwk(args.key);
const query = args.dcql ? JSON.parse(readFileSync(args.dcql, 'utf8')) : {
  credentials: [{
    id: 'pid',
    format: 'mso_mdoc',
    meta: { doctype_value: 'eu.europa.ec.eudi.pid.1' },
    claims: [{ path: ['eu.europa.ec.eudi.pid.1', 'age_over_18'] }],
  }],
};

// ephemeral response-encryption key (WebCrypto through jose)
const encKp = await generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
const encPub = { ...(await exportJWK(encKp.publicKey)), use: 'enc', alg: 'ECDH-ES', kid: `enc-${b64u(crypto.getRandomValues(new Uint8Array(6)))}` };
const encPriv = { ...(await exportJWK(encKp.privateKey)), kid: encPub.kid };
const callbacks = oid4vcCallbacks({ signKeyJwk, decryptKeys: [encPriv], log });
const verifier = new Openid4vpVerifier({ callbacks });
const ctx = mdocContext();

const tx = b64u(crypto.getRandomValues(new Uint8Array(12)));
const nonce = b64u(crypto.getRandomValues(new Uint8Array(24)));
const state = b64u(crypto.getRandomValues(new Uint8Array(16)));

server = createServer((req, res) => {
  handle(req, res).catch((e) => {
    log(`internal error: ${e.stack ?? e}`);
    result.error = `internal: ${e.message}`;
    res.writeHead(500).end();
    finish(1);
  });
});
let port = 0;
if (!args['request-out']) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
}
const base = args.base ?? `http://${host}:${port}`;
const requestUri = `${base}/oid4vp/request/${tx}`;
const responseUri = `${base}/oid4vp/response/${tx}`;
const clientId = prefix === 'x509_san_dns'
  ? `x509_san_dns:${host}`
  : `x509_hash:${await calculateX509HashClientIdPrefixValue({ x509Certificate: chain[0], hash: callbacks.hash })}`;

const created = await verifier.createOpenId4vpAuthorizationRequest({
  authorizationRequestPayload: {
    response_type: 'vp_token',
    client_id: clientId,
    response_uri: responseUri,
    response_mode: 'direct_post.jwt',
    nonce,
    state,
    dcql_query: query,
    client_metadata: {
      jwks: { keys: [encPub] },
      encrypted_response_enc_values_supported: encValues,
      vp_formats_supported: { mso_mdoc: { issuerauth_alg_values: [-7], deviceauth_alg_values: [-7] } },
    },
  },
  jar: {
    requestUri,
    jwtSigner: { method: 'x5c', alg: 'ES256', x5c: chain.map(b64) },
    expiresInSeconds: 300,
  },
});
const requestJwt = created.jar.authorizationRequestJwt;
const requestPayload = created.authorizationRequestPayload;
log(`request object claims: ${Object.keys(requestPayload).join(', ')}`);
if (args['request-out']) {
  // only the request object (for Tessera's request verifier); nothing is served
  writeFileSync(args['request-out'], requestJwt);
  writeFileSync(args['url-file'], `${created.authorizationRequest}\n`);
  result.ok = true;
  result.nonce = nonce;
  result.state = state;
  result.client_id = clientId;
  finish(0);
}
writeFileSync(args['url-file'], `${created.authorizationRequest}\n`);
if (args['port-file']) writeFileSync(args['port-file'], `${port}\n`);

const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
};

async function readBody(req) {
  const parts = [];
  let n = 0;
  for await (const c of req) {
    n += c.length;
    if (n > 1 << 20) throw new Error('response body too large');
    parts.push(c);
  }
  return Buffer.concat(parts).toString('utf8');
}

let fetched = 0;
async function handle(req, res) {
  const url = new URL(req.url, base);
  if (req.method === 'GET' && url.pathname === `/oid4vp/request/${tx}`) {
    fetched++;
    res.writeHead(200, { 'content-type': 'application/oauth-authz-req+jwt', 'cache-control': 'no-store' });
    res.end(requestJwt);
    return;
  }
  if (req.method === 'POST' && url.pathname === `/oid4vp/response/${tx}`) {
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('application/x-www-form-urlencoded')) {
      json(res, 400, { error: 'invalid_request', error_description: `content type ${type}` });
      result.error = `response content type ${type}`;
      return finish(1);
    }
    const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
    if (form.error && form.state === state && !form.response) {
      // the wallet's error response (OpenID4VP 1.0 §8.5): taken (200), nothing verified
      result.wallet_error = { error: form.error, error_description: form.error_description, state: form.state };
      result.error = `the wallet answered ${form.error}: ${form.error_description ?? ''}`;
      json(res, 200, {});
      return finish(1);
    }
    try {
      await verifyResponse(form);
    } catch (e) {
      result.error = e.message;
      log(`response refused: ${e.stack ?? e}`);
      json(res, 400, { error: 'invalid_request', error_description: e.message.slice(0, 200) });
      return finish(1);
    }
    json(res, 200, args['same-device'] ? { redirect_uri: `${base}/done#response_code=${b64u(crypto.getRandomValues(new Uint8Array(16)))}` } : {});
    return finish();
  }
  res.writeHead(404).end();
}

async function verifyResponse(form) {
  if (!fetched) throw new Error('a response before the request object was fetched');
  if (form.error) {
    result.wallet_error = { error: form.error, error_description: form.error_description, state: form.state };
    if (form.state !== state) throw new Error(`wallet error ${form.error} with state ${form.state}`);
    throw new Error(`the wallet answered ${form.error}: ${form.error_description ?? ''}`);
  }
  if (!form.response) throw new Error('no response parameter');
  const parsed = await verifier.parseOpenid4vpAuthorizationResponse({
    authorizationResponse: form,
    authorizationRequestPayload: requestPayload,
    callbacks,
  });
  if (parsed.jarm?.type !== 'Encrypted') throw new Error(`response is ${parsed.jarm?.type}, not encrypted`);
  const h = decodeProtectedHeader(form.response);
  result.jwe_header = h;
  if (h.alg !== 'ECDH-ES' || !encValues.includes(h.enc)) throw new Error(`JWE alg/enc ${h.alg}/${h.enc}`);
  if (parsed.type !== 'dcql') throw new Error(`response type ${parsed.type}`);
  // OpenID4VP 1.0 §8.1: the vp_token is a JSON object whose values are arrays
  const raw = parsed.authorizationResponsePayload.vp_token;
  for (const [id, v] of Object.entries(raw)) {
    if (!Array.isArray(v)) throw new Error(`vp_token["${id}"] is not an array (OpenID4VP 1.0 §8.1)`);
  }
  const { deviceRequest, ids } = await dcqlToDeviceRequest(query);
  const thumb = fromB64u(await calculateJwkThumbprint(encPub, 'sha256'));
  const transcript = await SessionTranscript.forOid4Vp({ clientId, nonce, responseUri, jwkThumbprint: thumb }, ctx);
  if (args['transcript-file']) writeFileSync(args['transcript-file'], transcript.encode());
  const presentations = parsed.dcql.presentations;
  for (const id of Object.keys(presentations)) if (!ids.includes(id)) throw new Error(`vp_token names unknown query ${id}`);
  for (const [i, id] of ids.entries()) {
    const list = presentations[id];
    if (!list) throw new Error(`no presentation for credential query ${id}`);
    if (list.length !== 1) throw new Error(`${list.length} presentations for ${id} (multiple not asked)`);
    if (typeof list[0] !== 'string') throw new Error(`presentation for ${id} is not a string`);
    const dr = DeviceResponse.fromEncodedForOid4Vp(list[0]);
    const failed = [];
    const subRequest = (await import('@owf/mdoc')).DeviceRequest.create({ docRequests: [deviceRequest.docRequests[i]] });
    const res = await Verifier.verifyDeviceResponse({
      deviceResponse: dr,
      sessionTranscript: transcript,
      deviceRequest: subRequest,
      deviceRequestMatchOptions: {
        // the pseudonym (Tessera's decision 1) is device-signed, authorised by keyAuthorizations
        docRequests: [{ docRequestIndex: 0, elements: { 'org.tessera.pseudonym.1': { pseudonym: { source: 'deviceSigned' } } } }],
      },
      trustedCertificates: [{ issuance: iaca, status: iaca }],
      disableStatusValidation: Boolean(args['no-status']),
      onCheck: (c) => { if (c.status === 'FAILED') failed.push(`${c.category}: ${c.check}${c.reason ? ` (${c.reason})` : ''}`); },
    }, ctx);
    if (failed.length) throw new Error(`DeviceResponse for ${id} refused: ${failed.join('; ')}`);
    if (res.documents.length !== 1) throw new Error(`${res.documents.length} documents for ${id}`);
    const doc = res.documents[0].document;
    result.doctype = doc.docType;
    for (const [ns, items] of doc.issuerSigned.issuerNamespaces?.issuerNamespaces ?? []) {
      result.claims[ns] = Object.fromEntries(items.map((it) => [it.elementIdentifier, jsonValue(it.elementValue)]));
    }
    for (const [ns, items] of doc.deviceSigned.deviceNamespaces?.deviceNamespaces ?? []) {
      result.device_signed[ns] = Object.fromEntries([...items.deviceSignedItems].map(([k, v]) => [k, jsonValue(v)]));
    }
  }
  if (parsed.authorizationResponsePayload.state !== state) throw new Error('state differs');
  result.ok = true;
}
