#!/usr/bin/env node
// Issue an mDL and present it with @auth0/mdl, for tessera to verify.
//
// usage: node produce.mjs --out DIR
//
// Writes into DIR:
//   root.pem            IACA-like root certificate (trust anchor)
//   ds.pem              document signer certificate (also in the MSO's x5chain)
//   device_key.pem      device private key, PKCS#8 PEM (P-256)
//   device_pub.pem      device public key, SPKI PEM
//   transcript.cbor     the SessionTranscript, plain CBOR array [null, null, handover]
//                       (NOT tag-24 wrapped); these are exactly the bytes that sit
//                       inside DeviceAuthentication
//   response.cbor       DeviceResponse, device authentication by signature (ES256)
//   response_mac.cbor   DeviceResponse, device authentication by MAC (HMAC 256/256)
//   ereader_key.pem     reader ephemeral private key for response_mac.cbor (PKCS#8)
//   ereader_pub.pem     its public key (SPKI)
//   expected.json       {"docType", "elements": {ns: {elem: value}}} presented
//   ca/                 the openssl CA working files (root/DS private keys etc.)
//
// Keys and certificates are made with the openssl command line (not node:crypto
// key generation, which can deadlock on Node 20.20).
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, hkdfSync,
  randomBytes, verify as cryptoVerify,
} from 'node:crypto';
import {
  require, parseArgs, loadMdl, loadCbor, openssl, privatePemToJwk, publicPemToJwk,
  cborTag24, cborTstr, cborBstr, unwrapTag24, toJsonValue,
} from './lib.mjs';

const DOCTYPE = 'org.iso.18013.5.1.mDL';
const NS = 'org.iso.18013.5.1';
const COUNTRY = 'UT';

let args;
try {
  args = parseArgs(process.argv.slice(2), { out: 'string' });
  if (!args.out) throw new Error('--out is required');
} catch (e) {
  process.stderr.write(`produce.mjs: ${e.message}\nusage: node produce.mjs --out DIR\n`);
  process.exit(2);
}

const out = resolve(args.out);
const caDir = join(out, 'ca');
mkdirSync(join(caDir, 'newcerts'), { recursive: true });

const mdl = loadMdl();
const { COSEKeyFromJWK } = require('cose-kit');
const cbor = loadCbor();

// ---------------------------------------------------------------------------
// 1. PKI with the openssl CLI
// ---------------------------------------------------------------------------
const nowMs = Math.floor(Date.now() / 1000) * 1000;
const HOUR = 3600e3;
const DAY = 24 * HOUR;
// openssl ca -startdate/-enddate: UTCTime YYMMDDHHMMSSZ
const asn1Time = (ms) => new Date(ms).toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';

function genKey(path) {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}
function pubKey(priv, path) {
  openssl(['pkey', '-in', priv, '-pubout', '-out', path]);
}

const caConf = `
[ca]
default_ca = CA_default

[CA_default]
dir              = ${caDir}
database         = $dir/index.txt
new_certs_dir    = $dir/newcerts
serial           = $dir/serial
default_md       = sha256
policy           = policy_any
unique_subject   = no
copy_extensions  = none
email_in_dn      = no
preserve         = yes

[policy_any]
countryName            = optional
stateOrProvinceName    = optional
organizationName       = optional
commonName             = supplied

[req]
distinguished_name = req_dn
prompt             = no

[req_dn]
CN = unused

# ISO/IEC 18013-5 Annex B.1.2 IACA root
[v3_iaca]
basicConstraints       = critical, CA:true, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
issuerAltName          = email:iaca@utopia.example
crlDistributionPoints  = URI:http://crl.utopia.example/iaca.crl

# ISO/IEC 18013-5 Annex B.1.4 document signer
[v3_ds]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature
extendedKeyUsage       = critical, 1.0.18013.5.1.2
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
issuerAltName          = email:iaca@utopia.example
crlDistributionPoints  = URI:http://crl.utopia.example/iaca.crl
`;
writeFileSync(join(caDir, 'ca.cnf'), caConf);
writeFileSync(join(caDir, 'index.txt'), '');
// positive, random 16-byte serial
const serial = randomBytes(16); serial[0] &= 0x7f; serial[0] |= 0x10;
writeFileSync(join(caDir, 'serial'), `${serial.toString('hex').toUpperCase()}\n`);

const p = (f) => join(caDir, f);
const conf = p('ca.cnf');

genKey(p('root_key.pem'));
openssl(['req', '-new', '-config', conf, '-key', p('root_key.pem'),
  '-subj', `/C=${COUNTRY}/O=Utopia Interop/CN=Utopia Interop IACA (auth0-mdl)`, '-out', p('root.csr')]);
openssl(['ca', '-batch', '-notext', '-config', conf, '-selfsign', '-keyfile', p('root_key.pem'),
  '-in', p('root.csr'), '-extensions', 'v3_iaca',
  '-startdate', asn1Time(nowMs - 2 * HOUR), '-enddate', asn1Time(nowMs + 3650 * DAY),
  '-out', p('root.pem')]);

genKey(p('ds_key.pem'));
openssl(['req', '-new', '-config', conf, '-key', p('ds_key.pem'),
  '-subj', `/C=${COUNTRY}/O=Utopia Interop/CN=Utopia Interop DS (auth0-mdl)`, '-out', p('ds.csr')]);
openssl(['ca', '-batch', '-notext', '-config', conf, '-cert', p('root.pem'), '-keyfile', p('root_key.pem'),
  '-in', p('ds.csr'), '-extensions', 'v3_ds',
  '-startdate', asn1Time(nowMs - 2 * HOUR), '-enddate', asn1Time(nowMs + 730 * DAY),
  '-out', p('ds.pem')]);
openssl(['verify', '-x509_strict', '-CAfile', p('root.pem'), p('ds.pem')]);

// `openssl ca -notext` output is exactly one PEM block
const rootPem = readFileSync(p('root.pem'), 'utf8');
const dsPem = readFileSync(p('ds.pem'), 'utf8');
writeFileSync(join(out, 'root.pem'), rootPem);
writeFileSync(join(out, 'ds.pem'), dsPem);

genKey(join(out, 'device_key.pem'));
pubKey(join(out, 'device_key.pem'), join(out, 'device_pub.pem'));
genKey(join(out, 'ereader_key.pem'));
pubKey(join(out, 'ereader_key.pem'), join(out, 'ereader_pub.pem'));

const dsJwk = await privatePemToJwk(readFileSync(p('ds_key.pem'), 'utf8'));
const deviceJwk = await privatePemToJwk(readFileSync(join(out, 'device_key.pem'), 'utf8'));
const devicePubJwk = await publicPemToJwk(readFileSync(join(out, 'device_pub.pem'), 'utf8'));
const ereaderPubJwk = await publicPemToJwk(readFileSync(join(out, 'ereader_pub.pem'), 'utf8'));

// ---------------------------------------------------------------------------
// 2. Issue the mDL with @auth0/mdl
// ---------------------------------------------------------------------------
// JPEG-looking portrait: SOI + APP0 "JFIF" header + filler + EOI, 400 bytes
const portrait = Buffer.concat([
  Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'),
  randomBytes(376),
  Buffer.from('ffd9', 'hex'),
]);

const claims = {
  family_name: 'Mustermann',
  given_name: 'Erika',
  birth_date: '1964-08-12',
  issue_date: '2024-01-01',
  expiry_date: '2034-01-01',
  issuing_country: COUNTRY,
  issuing_authority: 'Utopia Interop',
  document_number: 'A0MDL0001',
  portrait: new Uint8Array(portrait),
  age_over_18: true,
};

const signedAt = new Date(nowMs - HOUR);
const document = await new mdl.Document(DOCTYPE)
  .addIssuerNameSpace(NS, claims)
  .useDigestAlgorithm('SHA-256')
  .addValidityInfo({ signed: signedAt, validFrom: signedAt, validUntil: new Date(nowMs + 365 * DAY) })
  // public COSE_Key only {1:2, -1:1, -2:x, -3:y}: no kid, no d
  .addDeviceKeyInfo({ deviceKey: devicePubJwk })
  // kid given explicitly: @auth0/mdl otherwise writes `4: undefined` (0xf7)
  // into the unprotected header
  .sign({ issuerPrivateKey: dsJwk, issuerCertificate: dsPem, alg: 'ES256', kid: 'ds-1' });

// ---------------------------------------------------------------------------
// 3. Present family_name, given_name, age_over_18
// ---------------------------------------------------------------------------
const presented = ['family_name', 'given_name', 'age_over_18'];
const pd = {
  id: 'tessera-interop',
  input_descriptors: [{
    id: DOCTYPE,
    format: { mso_mdoc: { alg: ['ES256'] } },
    constraints: {
      limit_disclosure: 'required',
      fields: presented.map((e) => ({ path: [`$['${NS}']['${e}']`], intent_to_retain: false })),
    },
  }],
};

// SessionTranscript = [DeviceEngagementBytes, EReaderKeyBytes, Handover] with
// null/null (as in ISO 18013-7 / OpenID4VP) and a handover of our own.
// @auth0/mdl's builder takes SessionTranscriptBytes (= #6.24(bstr .cbor ST)),
// decodes it and re-encodes the inner array into DeviceAuthentication (and
// hashes the tag-24 form for the MAC key). The plain array written to
// transcript.cbor is checked below to be exactly what was signed.
const transcript = Buffer.from(cbor.encode([null, null, ['auth0-mdl-interop', new Uint8Array(randomBytes(16))]]));
const transcriptBytes = cborTag24(transcript);
if (!Buffer.from(cbor.encode(cbor.decode(transcript))).equals(transcript)) {
  throw new Error('SessionTranscript does not survive a decode/encode round trip');
}

const deviceSignerJwk = { ...deviceJwk, kid: 'device-1' };

const respSig = await mdl.DeviceResponse.from(new mdl.MDoc([document]))
  .usingPresentationDefinition(pd)
  .usingSessionTranscriptBytes(transcriptBytes)
  .authenticateWithSignature(deviceSignerJwk, 'ES256')
  .sign();
const responseSig = Buffer.from(respSig.encode());

const respMac = await mdl.DeviceResponse.from(new mdl.MDoc([document]))
  .usingPresentationDefinition(pd)
  .usingSessionTranscriptBytes(transcriptBytes)
  .authenticateWithMAC(deviceSignerJwk, COSEKeyFromJWK(ereaderPubJwk), 'HS256')
  .sign();
const responseMac = Buffer.from(respMac.encode());

// ---------------------------------------------------------------------------
// 4. Independent self-check (node:crypto, raw byte splicing, no re-encoding):
//    DeviceAuthenticationBytes = #6.24(bstr .cbor ["DeviceAuthentication",
//      <transcript.cbor bytes>, docType, <DeviceNameSpacesBytes as received>])
// ---------------------------------------------------------------------------
function deviceAuthBytes(response) {
  const dr = cbor.decode(response);
  const doc = dr.get('documents')[0];
  const ds = doc.get('deviceSigned');
  const nsItem = ds.get('nameSpaces'); // tag 24 -> @auth0/mdl DataItem, .buffer = received inner bytes
  const nsBytes = cborTag24(Buffer.from(nsItem.buffer));
  const da = Buffer.concat([Buffer.from([0x84]), cborTstr('DeviceAuthentication'), transcript,
    cborTstr(doc.get('docType')), nsBytes]);
  return { dab: cborTag24(da), auth: ds.get('deviceAuth') };
}
{
  const { dab, auth } = deviceAuthBytes(responseSig);
  const [prot, , payload, sig] = auth.get('deviceSignature');
  if (payload !== null) throw new Error('deviceSignature payload is not detached (null)');
  const toBeSigned = Buffer.concat([Buffer.from([0x84]), cborTstr('Signature1'), cborBstr(prot),
    cborBstr(Buffer.alloc(0)), cborBstr(dab)]);
  const ok = cryptoVerify('sha256', toBeSigned,
    { key: createPublicKey(readFileSync(join(out, 'device_pub.pem'))), dsaEncoding: 'ieee-p1363' }, sig);
  if (!ok) throw new Error('self-check: device signature does not verify over transcript.cbor');
}
{
  const { dab, auth } = deviceAuthBytes(responseMac);
  const [prot, , payload, tag] = auth.get('deviceMac');
  if (payload !== null) throw new Error('deviceMac payload is not detached (null)');
  const z = diffieHellman({
    privateKey: createPrivateKey(readFileSync(join(out, 'ereader_key.pem'))),
    publicKey: createPublicKey(readFileSync(join(out, 'device_pub.pem'))),
  });
  const salt = createHash('sha256').update(transcriptBytes).digest();
  const emacKey = Buffer.from(hkdfSync('sha256', z, salt, Buffer.from('EMacKey'), 32));
  const macStructure = Buffer.concat([Buffer.from([0x84]), cborTstr('MAC0'), cborBstr(prot),
    cborBstr(Buffer.alloc(0)), cborBstr(dab)]);
  const want = createHmac('sha256', emacKey).update(macStructure).digest();
  if (!want.equals(Buffer.from(tag))) throw new Error('self-check: device MAC does not verify over transcript.cbor');
}
if (unwrapTag24(transcript) !== null) throw new Error('transcript.cbor must be the plain array');

// ---------------------------------------------------------------------------
// 5. Write
// ---------------------------------------------------------------------------
writeFileSync(join(out, 'transcript.cbor'), transcript);
writeFileSync(join(out, 'response.cbor'), responseSig);
writeFileSync(join(out, 'response_mac.cbor'), responseMac);
const expected = {
  docType: DOCTYPE,
  elements: { [NS]: Object.fromEntries(presented.map((e) => [e, toJsonValue(claims[e], mdl)])) },
  validity: { signed: signedAt.toISOString(), validFrom: signedAt.toISOString(),
    validUntil: new Date(nowMs + 365 * DAY).toISOString() },
};
writeFileSync(join(out, 'expected.json'), `${JSON.stringify(expected, null, 2)}\n`);
process.stdout.write(`produce.mjs: wrote ${out} (response ${responseSig.length} B, mac ${responseMac.length} B)\n`);
