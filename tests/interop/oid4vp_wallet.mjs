#!/usr/bin/env node
// A minimal OpenID4VP 1.0 wallet for the interop test, built on the
// openwallet-foundation-labs @openid4vc/openid4vp Openid4vpClient: it parses
// the openid4vp:// URL, fetches the request object by request_uri and
// verifies it (x5c chain to the given RP roots, JWS signature, client_id
// against the leaf: x509_san_dns / x509_hash, typ, response_uri host), builds
// the DeviceResponse with @owf/mdoc (Holder, device signature over the
// OpenID4VP SessionTranscript of Appendix B.2.6.1) from a credential the
// Tessera authority issued to a test device key, encrypts the response with
// `jose` (ECDH-ES, the enc chosen with --enc) to the verifier's key and POSTs
// it (direct_post.jwt). An interop test wallet: its device key is a PEM file.
//
// usage: node oid4vp_wallet.mjs --url 'openid4vp://...' --trust RP_ROOT.pem
//          --credential MDOC.cbor --device-key DEV.pem [--enc A256GCM|A128GCM]
//          [--pseudonym-seed TEXT] [--decline] [--tamper WHAT]
//
//   --credential  the credential as `tessera issue` writes it ({"docType",
//                 "issuerSigned"}) or a bare IssuerSigned
//   --pseudonym-seed  answer a request for org.tessera.pseudonym.1/pseudonym
//                 with SHA-256(seed || RP leaf certificate), device-signed
//   --decline     answer with the error response access_denied instead
//   --tamper      transcript: sign over another nonce (a wrong SessionTranscript)
//
// Prints one JSON object {"ok", "error", "client_id", "client_prefix", "dns",
// "dcql", "enc", "status", "body", "jwe_header"}; exit 0 when the verifier
// answered 200, 1 otherwise, 2 on usage errors.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, decodeProtectedHeader } from 'jose';
import { Openid4vpClient, extractEncryptionJwkFromJwks } from '@openid4vc/openid4vp';
import { setGlobalConfig } from '@openid4vc/utils';
import { CoseKey, Holder, IssuerSigned, SessionTranscript, DeviceNamespaces, DeviceSignedItems } from '@owf/mdoc';
import { parseArgs } from './lib.mjs';
import {
  pemCerts, pemPrivateJwk, fromB64u, mdocContext, oid4vcCallbacks, dcqlToDeviceRequest, cborMapMember,
} from './oid4vp_common.mjs';

function usage(msg) {
  process.stderr.write(`oid4vp_wallet.mjs: ${msg}\n`);
  process.exit(2);
}
let args;
try {
  args = parseArgs(process.argv.slice(2), {
    url: 'string', trust: 'string', credential: 'string', 'device-key': 'string', enc: 'string',
    'pseudonym-seed': 'string', decline: 'bool', tamper: 'string',
  });
} catch (e) {
  usage(e.message);
}
for (const k of ['url', 'trust', 'credential', 'device-key']) if (!args[k]) usage(`--${k} is required`);
const enc = args.enc ?? 'A256GCM';
if (!['A128GCM', 'A256GCM'].includes(enc)) usage('--enc must be A128GCM or A256GCM');
if (args.tamper && args.tamper !== 'transcript') usage('--tamper must be transcript');

const log = (m) => process.stderr.write(`wallet: ${m}\n`);
const result = { ok: false, error: null };
const finish = () => {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.exit(result.ok ? 0 : 1);
};

// The verifier runs on plain http on loopback in this test.
setGlobalConfig({ allowInsecureUrls: true });

const callbacks = oid4vcCallbacks({ trustedRoots: pemCerts(args.trust), log });
const client = new Openid4vpClient({ callbacks });
const ctx = mdocContext();

try {
  await run();
} catch (e) {
  result.error = e.message;
  log(e.stack ?? String(e));
}
finish();

function loadIssuerSigned(path) {
  const bytes = readFileSync(path);
  let raw;
  try {
    raw = cborMapMember(bytes, 'issuerSigned');
  } catch {
    raw = bytes; // a bare IssuerSigned
  }
  return IssuerSigned.decode(raw);
}

async function run() {
  const parsed = client.parseOpenid4vpAuthorizationRequest({ authorizationRequest: args.url });
  if (parsed.type !== 'jar') throw new Error(`request is ${parsed.type}, not a JAR request (HAIP)`);
  const resolved = await client.resolveOpenId4vpAuthorizationRequest({
    authorizationRequestPayload: parsed.params,
    responseMode: { type: 'direct_post' },
  });
  const req = resolved.authorizationRequestPayload;
  result.client_id = req.client_id;
  result.client_prefix = resolved.client.prefix;
  result.version = resolved.version;
  if (!['x509_san_dns', 'x509_hash'].includes(resolved.client.prefix)) throw new Error(`client id prefix ${resolved.client.prefix}`);
  if (resolved.jar?.signer?.method !== 'x5c') throw new Error('request object not signed with x5c');
  const leafDer = Buffer.from(resolved.client.x5c[0], 'base64');
  result.dns = new X509Certificate(leafDer).subjectAltName;
  if (req.response_mode !== 'direct_post.jwt') throw new Error(`response_mode ${req.response_mode}`);
  if (!resolved.dcql) throw new Error('no dcql_query');
  result.dcql = resolved.dcql.query;

  if (args.decline) {
    const res = await fetch(req.response_uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ error: 'access_denied', error_description: 'the holder declined', ...(req.state ? { state: req.state } : {}) }).toString(),
    });
    result.status = res.status;
    result.body = await res.text();
    result.ok = res.status === 200;
    return;
  }

  // the verifier's response-encryption key, as the library picks it
  const encJwk = extractEncryptionJwkFromJwks(req.client_metadata.jwks, { supportedAlgValues: ['ECDH-ES'] });
  if (!encJwk) throw new Error('no encryption key in client_metadata');
  const thumb = fromB64u(await calculateJwkThumbprint(encJwk, 'sha256'));
  const transcript = await SessionTranscript.forOid4Vp({
    clientId: req.client_id,
    nonce: args.tamper === 'transcript' ? `${req.nonce}-other` : req.nonce,
    responseUri: req.response_uri,
    jwkThumbprint: thumb,
  }, ctx);

  const issuerSigned = loadIssuerSigned(args.credential);
  const deviceKey = CoseKey.fromJwk({ ...pemPrivateJwk(args['device-key']), alg: 'ES256' });
  const { deviceRequest, ids } = await dcqlToDeviceRequest(resolved.dcql.query);
  const vpToken = {};
  for (const [i, id] of ids.entries()) {
    const dr = deviceRequest.docRequests[i];
    const want = dr.itemsRequest.namespaces;
    let deviceNamespaces;
    if (want.get('org.tessera.pseudonym.1')?.has('pseudonym')) {
      if (!args['pseudonym-seed']) throw new Error('the query asks for a pseudonym; give --pseudonym-seed');
      const p = createHash('sha256').update(args['pseudonym-seed']).update(leafDer).digest();
      deviceNamespaces = DeviceNamespaces.create({
        deviceNamespaces: new Map([['org.tessera.pseudonym.1',
          DeviceSignedItems.create({ deviceSignedItems: new Map([['pseudonym', new Uint8Array(p)]]) })]]),
      });
    }
    const single = (await import('@owf/mdoc')).DeviceRequest.create({ docRequests: [dr] });
    const response = await Holder.createDeviceResponseForDeviceRequest({
      deviceRequest: single,
      sessionTranscript: transcript,
      documents: [{ issuerSigned, docRequestIndex: 0, deviceNamespaces, signature: { signingKey: deviceKey } }],
    }, ctx);
    vpToken[id] = [response.encodedForOid4Vp];
  }

  const created = await client.createOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: req,
    authorizationResponsePayload: { vp_token: vpToken },
    jarm: {
      encryption: { jwk: encJwk },
      serverMetadata: {
        authorization_encryption_alg_values_supported: ['ECDH-ES'],
        authorization_encryption_enc_values_supported: [enc],
      },
    },
  });
  const jwe = created.jarm.responseJwt;
  result.jwe_header = decodeProtectedHeader(jwe);
  result.enc = result.jwe_header.enc;
  if (result.enc !== enc) throw new Error(`library chose enc ${result.enc}, not ${enc}`);
  const submitted = await client.submitOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: req,
    authorizationResponsePayload: created.authorizationResponsePayload,
    jarm: created.jarm,
  });
  result.status = submitted.response.status;
  result.body = await submitted.response.text();
  try { result.body = JSON.parse(result.body); } catch { /* keep the text */ }
  result.ok = submitted.response.status === 200;
  if (!result.ok) result.error = `the verifier answered ${result.status}`;
}
