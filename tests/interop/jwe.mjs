// Compact JWE (ECDH-ES on P-256, A128GCM / A256GCM) by an independent
// library, panva's `jose`, for tests/interop/jwe.sh:
//   node jwe.mjs encrypt PUB.jwk ENC OUT    "jose to tessera ENC" to Tessera's key
//   node jwe.mjs keygen DIR                 DIR/jose_priv.jwk, DIR/jose_pub.jwk
//   node jwe.mjs decrypt PRIV.jwk FILE ENC  prints the plaintext; checks "enc"
import { readFileSync, writeFileSync } from 'node:fs';
import { CompactEncrypt, compactDecrypt, importJWK, generateKeyPair, exportJWK } from 'jose';

const [cmd, a, b, c] = process.argv.slice(2);
if (cmd === 'encrypt') {
  const key = await importJWK(JSON.parse(readFileSync(a, 'utf8')), 'ECDH-ES');
  const jwe = await new CompactEncrypt(new TextEncoder().encode(`jose to tessera ${b}`))
    .setProtectedHeader({ alg: 'ECDH-ES', enc: b, kid: 'tes-1' })
    .encrypt(key);
  writeFileSync(c, jwe);
} else if (cmd === 'keygen') {
  const { publicKey, privateKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
  writeFileSync(`${a}/jose_priv.jwk`, JSON.stringify(await exportJWK(privateKey)));
  writeFileSync(`${a}/jose_pub.jwk`, JSON.stringify(await exportJWK(publicKey)));
} else if (cmd === 'decrypt') {
  const key = await importJWK(JSON.parse(readFileSync(a, 'utf8')), 'ECDH-ES');
  const { plaintext, protectedHeader } = await compactDecrypt(readFileSync(b, 'utf8'), key);
  if (protectedHeader.enc !== c) throw new Error(`enc is ${protectedHeader.enc}, not ${c}`);
  console.log(new TextDecoder().decode(plaintext));
} else {
  process.exit(2);
}
