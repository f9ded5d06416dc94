#!/usr/bin/env node
// An independent OpenID4VCI 1.0 wallet against `tessera authority serve`: the
// openwallet-foundation-labs @openid4vc/openid4vci client (its own HTTP, offer
// and metadata parsing, token request, nonce, proof JWTs and credential
// request), keys made with WebCrypto, proofs signed with `jose`, and every
// credential decoded as the IssuerSigned of OpenID4VCI 1.0 Appendix A.2.4 and
// verified by @auth0/mdl in a DeviceResponse signed with its device key.
//
// usage: node oid4vci_wallet.mjs --offer URI --tx-code CODE --trust iaca.pem
//                                --ds ds.pem [--batch N] [--extra]
//
//   --extra   send members the issuer does not know in the token request
//             (x_foo parameter) and in the Credential Request (x_foo member);
//             OpenID4VCI 1.0 §6.1 / §8.2 say they are ignored.
//
// Prints one JSON object {"ok": bool, "error": string|null, "credentials": [
//   {"docType", "keys": [top-level keys of the IssuerSigned], "signed",
//    "validFrom", "dsNotBefore", "valid", "failedChecks"}]}; exit 0 when every
// credential verified, 1 otherwise, 2 on usage errors.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Openid4vciClient } from '@openid4vc/openid4vci';
import { clientAuthenticationNone } from '@openid4vc/oauth2';
import { setGlobalConfig } from '@openid4vc/utils';
import { CompactSign } from 'jose';
import {
  parseArgs, loadMdl, loadCbor, cborHead, cborTstr, cborTag24, unwrapTag24,
} from './lib.mjs';

function usage(msg) {
  process.stderr.write(`oid4vci_wallet.mjs: ${msg}\nusage: node oid4vci_wallet.mjs --offer URI ` +
    '--tx-code CODE --trust iaca.pem --ds ds.pem [--batch N] [--extra]\n');
  process.exit(2);
}
let args;
try {
  args = parseArgs(process.argv.slice(2), {
    offer: 'string', 'tx-code': 'string', trust: 'string', ds: 'string', batch: 'string', extra: 'bool',
  });
} catch (e) {
  usage(e.message);
}
for (const k of ['offer', 'tx-code', 'trust', 'ds']) if (!args[k]) usage(`--${k} is required`);
const batch = Number(args.batch ?? 2);
if (!Number.isInteger(batch) || batch < 1 || batch > 10) usage('--batch must be 1..10');

const result = { ok: false, error: null, credentials: [] };
const finish = () => {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.exit(result.ok ? 0 : 1);
};

// The issuer runs on plain http on loopback in this test.
setGlobalConfig({ allowInsecureUrls: true });

// ---- wallet keys (WebCrypto: node:crypto EC key generation can deadlock on Node 20)
const subtle = globalThis.crypto.subtle;
const keys = []; // {privateKey, publicJwk, privateJwk}
async function newKey() {
  const kp = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const j = await subtle.exportKey('jwk', kp.privateKey);
  const k = {
    privateKey: kp.privateKey,
    publicJwk: { kty: 'EC', crv: 'P-256', x: j.x, y: j.y },
    privateJwk: { kty: 'EC', crv: 'P-256', x: j.x, y: j.y, d: j.d },
  };
  keys.push(k);
  return k;
}

const callbacks = {
  fetch: globalThis.fetch,
  hash: (data, alg) => {
    const algs = { 'sha-256': 'sha256', 'sha-384': 'sha384', 'sha-512': 'sha512' };
    return new Uint8Array(createHash(algs[String(alg).toLowerCase()] ?? 'sha256').update(data).digest());
  },
  generateRandom: (n) => globalThis.crypto.getRandomValues(new Uint8Array(n)),
  clientAuthentication: clientAuthenticationNone({}),
  signJwt: async (signer, { header, payload }) => {
    if (signer.method !== 'jwk') throw new Error(`signer method ${signer.method} not supported here`);
    const k = keys.find((x) => x.publicJwk.x === signer.publicJwk.x && x.publicJwk.y === signer.publicJwk.y);
    if (!k) throw new Error('no wallet key for this jwk');
    const jwt = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ ...header, alg: signer.alg })
      .sign(k.privateKey);
    return { jwt, signerJwk: signer.publicJwk };
  },
  decryptJwe: () => { throw new Error('no JWE in this test'); },
};

const mdl = loadMdl();
const cbor = loadCbor();
const DOCTYPE_PID = 'eu.europa.ec.eudi.pid.1';

// DeviceResponse {version, documents: [{docType, issuerSigned}], status} around the
// received IssuerSigned bytes as they are (no re-encoding).
function deviceResponseAround(docType, issuerSigned) {
  const map = (n) => cborHead(5, n);
  return Buffer.concat([
    map(3),
    cborTstr('version'), cborTstr('1.0'),
    cborTstr('documents'), cborHead(4, 1),
    map(2), cborTstr('docType'), cborTstr(docType), cborTstr('issuerSigned'), Buffer.from(issuerSigned),
    cborTstr('status'), Buffer.from([0x00]),
  ]);
}

const asDate = (v) => (v instanceof Date ? v : new Date(String(v && v.value !== undefined ? v.value : v)));

try {
  const client = new Openid4vciClient({ callbacks });
  const offer = await client.resolveCredentialOffer(args.offer);
  const issuerMetadata = await client.resolveIssuerMetadata(offer.credential_issuer);
  const configId = offer.credential_configuration_ids[0];
  const config = issuerMetadata.credentialIssuer.credential_configurations_supported[configId];
  if (!config || config.format !== 'mso_mdoc') throw new Error(`configuration ${configId} is not mso_mdoc`);

  const { accessTokenResponse } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer: offer,
    issuerMetadata,
    txCode: args['tx-code'],
    ...(args.extra ? { additionalRequestPayload: { x_foo: 'bar' } } : {}),
  });
  const { c_nonce: nonce } = await client.requestNonce({ issuerMetadata });

  const jwts = [];
  for (let i = 0; i < batch; i++) {
    const k = await newKey();
    const { jwt } = await client.createCredentialRequestJwtProof({
      issuerMetadata,
      credentialConfigurationId: configId,
      nonce,
      signer: { method: 'jwk', alg: 'ES256', publicJwk: k.publicJwk },
    });
    jwts.push(jwt);
  }
  const resp = await client.retrieveCredentials({
    issuerMetadata,
    accessToken: accessTokenResponse.access_token,
    credentialConfigurationId: configId,
    proofs: { jwt: jwts },
    ...(args.extra ? { additionalRequestPayload: { x_foo: { any: ['thing'] } } } : {}),
  });
  const creds = resp.credentialResponse.credentials ?? [];
  if (creds.length !== batch) throw new Error(`asked for ${batch} credentials, got ${creds.length}`);

  const roots = readFileSync(args.trust, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  const dsNotBefore = new X509Certificate(readFileSync(args.ds)).validFrom;
  const transcript = Buffer.from(cbor.encode([null, null, ['tessera-oid4vci-interop', 1]]));
  const transcriptBytes = cborTag24(transcript);
  let allValid = true;
  for (const [i, c] of creds.entries()) {
    if (typeof c.credential !== 'string' || !/^[A-Za-z0-9_-]+$/.test(c.credential)) {
      throw new Error(`credential ${i} is not base64url text without padding`);
    }
    const raw = Buffer.from(c.credential, 'base64url');
    const is = cbor.decode(raw);
    const topKeys = is instanceof Map ? [...is.keys()] : Object.keys(is);
    // IssuerSigned: nameSpaces and issuerAuth; the docType is the MSO's.
    const issuerAuth = is.get('issuerAuth');
    const payload = issuerAuth[2];
    const mso = cbor.decode(unwrapTag24(payload));
    const docType = mso.get('docType');
    const vi = mso.get('validityInfo');
    const signed = asDate(vi.get('signed'));
    // Which wallet key this copy is bound to.
    const dk = mso.get('deviceKeyInfo').get('deviceKey');
    const x = Buffer.from(dk.get(-2)).toString('base64url');
    const k = keys.find((kk) => kk.publicJwk.x === x);
    const entry = {
      docType, keys: topKeys, signed: signed.toISOString(), validFrom: asDate(vi.get('validFrom')).toISOString(),
      dsNotBefore: new Date(dsNotBefore).toISOString(), boundToOwnKey: !!k, valid: false, failedChecks: [],
    };
    result.credentials.push(entry);
    if (!k) { allValid = false; continue; }

    const mdoc = mdl.parse(deviceResponseAround(docType, raw));
    const ns = docType === DOCTYPE_PID ? DOCTYPE_PID : 'org.iso.18013.5.1';
    const pd = {
      id: 'tessera-oid4vci-interop',
      input_descriptors: [{
        id: docType,
        format: { mso_mdoc: { alg: ['ES256'] } },
        constraints: {
          limit_disclosure: 'required',
          fields: ['family_name', 'age_over_18'].map((e) => ({ path: [`$['${ns}']['${e}']`], intent_to_retain: false })),
        },
      }],
    };
    const dr = await mdl.DeviceResponse.from(mdoc)
      .usingPresentationDefinition(pd)
      .usingSessionTranscriptBytes(transcriptBytes)
      .authenticateWithSignature({ ...k.privateJwk, kid: `k${i}` }, 'ES256')
      .sign();
    const verifier = new mdl.Verifier(roots);
    try {
      const v = await verifier.verify(dr.encode(), {
        encodedSessionTranscript: transcriptBytes,
        onCheck: (check) => { if (check.status === 'FAILED') entry.failedChecks.push(check.reason ?? check.check); },
      });
      const items = v.documents[0].issuerSigned.nameSpaces[ns] ?? [];
      entry.disclosed = items.map((it) => it.elementIdentifier).sort();
      entry.valid = entry.failedChecks.length === 0 && entry.disclosed.length === 2;
    } catch (e) {
      entry.failedChecks.push(`${e.name}: ${e.message}`);
    }
    allValid = allValid && entry.valid;
  }
  result.ok = allValid;
  if (!allValid) result.error = 'a credential did not verify with @auth0/mdl';
} catch (e) {
  result.error = `${e.name || 'Error'}: ${e.message}${e.errorResponse ? ` ${JSON.stringify(e.errorResponse)}` : ''}`;
}
finish();
