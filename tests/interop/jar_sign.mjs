// An OpenID4VP request object (JAR, HAIP) signed by an independent library,
// panva's `jose` (SignJWT with the x5c header), for tests/interop/jar.sh:
//   node jar_sign.mjs RP_KEY.pem RP_CERT.pem DNS_NAME OUT_FILE
import { readFileSync, writeFileSync } from 'node:fs';
import { SignJWT, importPKCS8, generateKeyPair, exportJWK } from 'jose';

const [keyPath, certPath, dns, out] = process.argv.slice(2);
const key = await importPKCS8(readFileSync(keyPath, 'utf8'), 'ES256');
const pem = readFileSync(certPath, 'utf8');
const x5c = [pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '')];
const { publicKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256' });
const jwk = { ...(await exportJWK(publicKey)), use: 'enc', kid: 'enc-1', alg: 'ECDH-ES' };
const now = Math.floor(Date.now() / 1000);
const jws = await new SignJWT({
  client_id: `x509_san_dns:${dns}`,
  response_type: 'vp_token',
  response_mode: 'direct_post.jwt',
  response_uri: `https://${dns}/oid4vp/response`,
  nonce: 'interop-nonce-1',
  state: 'interop-state',
  dcql_query: {
    credentials: [{ id: 'pid', format: 'mso_mdoc',
      meta: { doctype_value: 'eu.europa.ec.eudi.pid.1' },
      claims: [{ path: ['eu.europa.ec.eudi.pid.1', 'age_over_18'] }] }],
  },
  client_metadata: {
    jwks: { keys: [jwk] },
    encrypted_response_enc_values_supported: ['A128GCM', 'A256GCM'],
  },
})
  .setProtectedHeader({ alg: 'ES256', typ: 'oauth-authz-req+jwt', x5c })
  .setIssuedAt(now)
  .setExpirationTime(now + 300)
  .setAudience('https://self-issued.me/v2')
  .sign(key);
writeFileSync(out, jws);
