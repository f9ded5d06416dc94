// Shared pieces of the OpenID4VP 1.0 interop scripts (oid4vp_verifier.mjs,
// oid4vp_wallet.mjs): the crypto callbacks that @openid4vc/openid4vp and
// @owf/mdoc leave to their user, written with node:crypto and panva's `jose`.
//
//   mdocContext()          an @owf/mdoc MdocContext (ES256/384/512 COSE_Sign1,
//                          X.509 chain building to given roots, SHA-2 digests)
//   oid4vcCallbacks(opts)  the CallbackContext of @openid4vc/oauth2: JWS with
//                          an x5c chain (signed with a PEM key, verified
//                          against trusted roots), JWE ECDH-ES (jose), SHA-2,
//                          fetch, SAN dNSName / URI of a certificate
//   pemCerts / pemKey ...  file helpers
import { createHash, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CompactEncrypt, CompactSign, compactDecrypt, compactVerify, importJWK, decodeProtectedHeader } from 'jose';
import { CoseKey } from '@owf/mdoc';

// ---- files ----------------------------------------------------------------

/** DER bytes of every certificate in a PEM file. */
export function pemCerts(path) {
  const text = readFileSync(path, 'utf8');
  const out = [];
  for (const m of text.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g)) {
    out.push(new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ''), 'base64')));
  }
  if (!out.length) throw new Error(`${path}: no certificate`);
  return out;
}

export const b64 = (der) => Buffer.from(der).toString('base64');
export const b64u = (bytes) => Buffer.from(bytes).toString('base64url');
export const fromB64u = (s) => new Uint8Array(Buffer.from(s, 'base64url'));

/** The private JWK of a PEM (PKCS#8 / SEC1) EC key. */
export function pemPrivateJwk(path) {
  return createPrivateKey(readFileSync(path, 'utf8')).export({ format: 'jwk' });
}

// ---- digests --------------------------------------------------------------

const nodeHash = (name) => {
  const n = String(name).toLowerCase().replace(/-/g, '');
  const map = { sha256: 'sha256', sha384: 'sha384', sha512: 'sha512' };
  if (!map[n]) throw new Error(`unsupported digest ${name}`);
  return map[n];
};
export const digest = (alg, bytes) => new Uint8Array(createHash(nodeHash(alg)).update(bytes).digest());

// ---- X.509 ----------------------------------------------------------------

/**
 * Builds the chain of x5chain (leaf first) up to one of the trusted roots and checks every
 * signature, issuer/subject link, CA flag of each issuer and the validity at `now`. Returns
 * the DER chain, leaf first, root last (the root counted once).
 */
export function verifyChain({ x5chain, trusted, now = new Date() }) {
  if (!x5chain.length) throw new Error('empty certificate chain');
  const certs = x5chain.map((d) => new X509Certificate(Buffer.from(d)));
  const roots = trusted.map((d) => new X509Certificate(Buffer.from(d)));
  const at = now.getTime();
  const valid = (c) => at >= Date.parse(c.validFrom) && at <= Date.parse(c.validTo);
  const chain = [];
  for (let i = 0; i < certs.length; i++) {
    const c = certs[i];
    if (!valid(c)) throw new Error(`certificate ${c.subject} is not valid at ${now.toISOString()}`);
    chain.push(new Uint8Array(c.raw));
    // a trusted root itself (or equal to one) ends the chain
    const asRoot = roots.find((r) => r.raw.equals(c.raw));
    if (asRoot) return chain;
    const root = roots.find((r) => c.checkIssued(r) && c.verify(r.publicKey));
    if (root) {
      if (!root.ca) throw new Error(`trusted certificate ${root.subject} is not a CA`);
      if (!valid(root)) throw new Error(`trusted root ${root.subject} is not valid now`);
      chain.push(new Uint8Array(root.raw));
      return chain;
    }
    const next = certs[i + 1];
    if (!next) break;
    if (!next.ca || !c.checkIssued(next) || !c.verify(next.publicKey)) {
      throw new Error(`certificate ${c.subject} is not issued by ${next.subject}`);
    }
  }
  throw new Error(`no trusted root for ${certs[certs.length - 1].issuer}`);
}

/** The dNSName and URI subjectAltNames of a certificate (DER or base64). */
export function sanNames(certificate) {
  const der = typeof certificate === 'string' ? Buffer.from(certificate, 'base64') : Buffer.from(certificate);
  const san = new X509Certificate(der).subjectAltName ?? '';
  const sanDnsNames = [];
  const sanUriNames = [];
  for (const part of san.split(/,\s*/)) {
    if (part.startsWith('DNS:')) sanDnsNames.push(part.slice(4));
    else if (part.startsWith('URI:')) sanUriNames.push(part.slice(4));
  }
  return { sanDnsNames, sanUriNames };
}

// ---- @owf/mdoc context ----------------------------------------------------

const curveHash = { 'P-256': 'sha256', 'P-384': 'sha384', 'P-521': 'sha512' };

function coseKeyJwk(key) {
  const jwk = key.jwk;
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, ...(jwk.d ? { d: jwk.d } : {}) };
}

export function mdocContext() {
  return {
    fetch: globalThis.fetch,
    crypto: {
      random: (n) => globalThis.crypto.getRandomValues(new Uint8Array(n)),
      digest: ({ digestAlgorithm, bytes }) => digest(digestAlgorithm, bytes),
      hdkf: () => { throw new Error('device MAC is not used in these tests'); },
    },
    cose: {
      sign1: {
        sign: async ({ toBeSigned, key }) => {
          const jwk = coseKeyJwk(key);
          const k = createPrivateKey({ key: jwk, format: 'jwk' });
          return new Uint8Array(nodeSign(curveHash[jwk.crv], toBeSigned, { key: k, dsaEncoding: 'ieee-p1363' }));
        },
        verify: async ({ toBeVerified, signature, key }) => {
          const jwk = coseKeyJwk(key);
          delete jwk.d;
          const k = createPublicKey({ key: jwk, format: 'jwk' });
          return nodeVerify(curveHash[jwk.crv], toBeVerified, { key: k, dsaEncoding: 'ieee-p1363' }, signature);
        },
      },
      mac0: {
        authenticate: () => { throw new Error('device MAC is not used in these tests'); },
        verify: () => { throw new Error('device MAC is not used in these tests'); },
      },
    },
    x509: {
      getSubjectNameField: ({ certificate, field }) => {
        const subject = new X509Certificate(Buffer.from(certificate)).subject;
        return subject.split('\n').filter((l) => l.startsWith(`${field}=`)).map((l) => l.slice(field.length + 1));
      },
      getPublicKey: async ({ certificate }) => {
        const jwk = new X509Certificate(Buffer.from(certificate)).publicKey.export({ format: 'jwk' });
        return CoseKey.fromJwk(jwk);
      },
      verifyCertificateChain: ({ trustedCertificates, x5chain, now }) =>
        ({ chain: verifyChain({ x5chain, trusted: trustedCertificates, now }) }),
      getCertificateData: ({ certificate }) => {
        const c = new X509Certificate(Buffer.from(certificate));
        return {
          issuerName: c.issuer.replace(/\n/g, ', '),
          subjectName: c.subject.replace(/\n/g, ', '),
          serialNumber: c.serialNumber,
          thumbprint: c.fingerprint256.replace(/:/g, '').toLowerCase(),
          notBefore: new Date(c.validFrom),
          notAfter: new Date(c.validTo),
          pem: c.toString(),
        };
      },
    },
  };
}

// ---- @openid4vc callbacks ---------------------------------------------------

/**
 * opts.signKeyJwk    private JWK signing JWTs of method x5c (the RP's access key)
 * opts.trustedRoots  DER roots a received x5c must chain to (the wallet's RP roots)
 * opts.decryptKeys   private JWKs (with kid) for JWE decryption
 * opts.log           function(string) for the JWE headers seen/sent
 */
export function oid4vcCallbacks(opts = {}) {
  const log = opts.log ?? (() => {});
  return {
    fetch: globalThis.fetch,
    hash: (data, alg) => digest(alg, data),
    generateRandom: (n) => globalThis.crypto.getRandomValues(new Uint8Array(n)),
    clientAuthentication: () => {},
    getX509CertificateMetadata: (certificate) => sanNames(certificate),
    signJwt: async (signer, { header, payload }) => {
      if (signer.method !== 'x5c') throw new Error(`signer method ${signer.method} not supported here`);
      if (!opts.signKeyJwk) throw new Error('no signing key');
      const key = await importJWK(opts.signKeyJwk, signer.alg);
      const jwt = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ ...header, alg: signer.alg, x5c: signer.x5c })
        .sign(key);
      const { d, ...publicJwk } = opts.signKeyJwk;
      return { jwt, signerJwk: publicJwk };
    },
    verifyJwt: async (signer, { compact }) => {
      if (signer.method !== 'x5c') return { verified: false };
      const x5chain = signer.x5c.map((c) => new Uint8Array(Buffer.from(c, 'base64')));
      try {
        verifyChain({ x5chain, trusted: opts.trustedRoots ?? [] });
      } catch (e) {
        log(`x5c chain refused: ${e.message}`);
        return { verified: false };
      }
      const leaf = new X509Certificate(Buffer.from(x5chain[0]));
      const signerJwk = leaf.publicKey.export({ format: 'jwk' });
      try {
        await compactVerify(compact, await importJWK(signerJwk, signer.alg), { algorithms: [signer.alg] });
      } catch (e) {
        log(`JWS signature refused: ${e.message}`);
        return { verified: false, signerJwk };
      }
      return { verified: true, signerJwk };
    },
    encryptJwe: async (encryptor, data) => {
      const { publicJwk, alg, enc, apu, apv } = encryptor;
      const header = { alg, enc, ...(publicJwk.kid ? { kid: publicJwk.kid } : {}) };
      const jwe = new CompactEncrypt(new TextEncoder().encode(data)).setProtectedHeader(header);
      const kmp = {};
      if (apu) kmp.apu = fromB64u(apu);
      if (apv) kmp.apv = fromB64u(apv);
      if (Object.keys(kmp).length) jwe.setKeyManagementParameters(kmp);
      const out = await jwe.encrypt(await importJWK(publicJwk, alg));
      log(`JWE header sent: ${JSON.stringify(decodeProtectedHeader(out))}`);
      return { jwe: out, encryptionJwk: publicJwk };
    },
    decryptJwe: async (jwe, options) => {
      const header = decodeProtectedHeader(jwe);
      log(`JWE header received: ${JSON.stringify(header)}`);
      const keys = opts.decryptKeys ?? [];
      const want = options?.jwk?.kid ?? header.kid;
      const jwk = keys.find((k) => !want || k.kid === want);
      if (!jwk) return { decrypted: false };
      try {
        const { plaintext } = await compactDecrypt(jwe, await importJWK(jwk, 'ECDH-ES'), {
          keyManagementAlgorithms: ['ECDH-ES'],
          contentEncryptionAlgorithms: ['A128GCM', 'A256GCM'],
        });
        const { d, ...publicJwk } = jwk;
        return { decrypted: true, decryptionJwk: publicJwk, payload: new TextDecoder().decode(plaintext) };
      } catch (e) {
        log(`JWE refused: ${e.message}`);
        return { decrypted: false };
      }
    },
  };
}

// ---- CBOR: the raw bytes of a map member ------------------------------------

function itemEnd(b, p) {
  const ib = b[p];
  const major = ib >> 5;
  const ai = ib & 31;
  let len;
  let q = p + 1;
  if (ai < 24) len = ai;
  else if (ai === 24) { len = b[q]; q += 1; }
  else if (ai === 25) { len = b.readUInt16BE(q); q += 2; }
  else if (ai === 26) { len = b.readUInt32BE(q); q += 4; }
  else if (ai === 27) { len = Number(b.readBigUInt64BE(q)); q += 8; }
  else throw new Error('indefinite-length CBOR is not expected here');
  switch (major) {
    case 0: case 1: case 7: return q;
    case 2: case 3: return q + len;
    case 4: for (let i = 0; i < len; i++) q = itemEnd(b, q); return q;
    case 5: for (let i = 0; i < 2 * len; i++) q = itemEnd(b, q); return q;
    case 6: return itemEnd(b, q);
    default: throw new Error('bad CBOR');
  }
}

/** The encoded bytes of member `key` (a text string) of the CBOR map in bytes. */
export function cborMapMember(bytes, key) {
  const b = Buffer.from(bytes);
  if (b[0] >> 5 !== 5) throw new Error('not a CBOR map');
  const ai = b[0] & 31;
  let n;
  let p = 1;
  if (ai < 24) n = ai;
  else if (ai === 24) { n = b[1]; p = 2; }
  else throw new Error('map too large');
  for (let i = 0; i < n; i++) {
    const kEnd = itemEnd(b, p);
    const vEnd = itemEnd(b, kEnd);
    const kb = b.subarray(p, kEnd);
    const want = Buffer.concat([Buffer.from([0x60 | key.length]), Buffer.from(key)]);
    if (key.length < 24 && kb.equals(want)) return new Uint8Array(b.subarray(kEnd, vEnd));
    p = vEnd;
  }
  throw new Error(`no member ${key}`);
}

// ---- DCQL (mso_mdoc) -> an ISO 18013-5 DeviceRequest ---------------------------

/**
 * One DocRequest per mso_mdoc Credential Query of a DCQL query, in order; every claim's path
 * [namespace, element] becomes a requested element (intent_to_retain as given, else false).
 * Returns { deviceRequest, ids } (ids: the Credential Query ids, same order).
 */
export async function dcqlToDeviceRequest(query) {
  const { DeviceRequest, DocRequest, ItemsRequest } = await import('@owf/mdoc');
  const ids = [];
  const docRequests = [];
  for (const cq of query.credentials ?? []) {
    if (cq.format !== 'mso_mdoc') throw new Error(`credential query ${cq.id}: format ${cq.format} is not mso_mdoc`);
    const namespaces = {};
    for (const c of cq.claims ?? []) {
      if (!Array.isArray(c.path) || c.path.length !== 2) throw new Error(`credential query ${cq.id}: claim path ${JSON.stringify(c.path)}`);
      const [ns, elem] = c.path;
      (namespaces[ns] ??= {})[elem] = c.intent_to_retain ?? false;
    }
    docRequests.push(DocRequest.create({
      itemsRequest: ItemsRequest.create({ docType: cq.meta.doctype_value, namespaces }),
    }));
    ids.push(cq.id);
  }
  return { deviceRequest: DeviceRequest.create({ docRequests }), ids };
}

/** JSON-friendly form of an element value (bytes as {"b64u": ...}, dates as ISO strings). */
export function jsonValue(v) {
  if (v instanceof Uint8Array) return { b64u: b64u(v) };
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), jsonValue(x)]));
  if (Array.isArray(v)) return v.map(jsonValue);
  if (v && typeof v === 'object') {
    if (typeof v.toISOString === 'function') return v.toISOString();
    if (typeof v.toString === 'function' && v.toString !== Object.prototype.toString) return v.toString();
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonValue(x)]));
  }
  return v;
}
