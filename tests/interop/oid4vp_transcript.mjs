// The OpenID4VP 1.0 Appendix B.2.6.1 SessionTranscript computed by an independent
// implementation (@owf/mdoc SessionTranscript.forOid4Vp) for the cases of
// oid4vp_transcript.json, compared with the bytes written there, which
// tests/unit/test_oid4vp.c requires of tes_oid4vp_session_transcript.
// Usage: node oid4vp_transcript.mjs [--print]   (exit 0: all agree)
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SessionTranscript } from '@owf/mdoc';

const ctx = {
  crypto: {
    digest: ({ digestAlgorithm, bytes }) => {
      if (digestAlgorithm !== 'SHA-256') throw new Error(`unexpected digest ${digestAlgorithm}`);
      return new Uint8Array(createHash('sha256').update(bytes).digest());
    },
  },
};
const hex = (b) => Buffer.from(b).toString('hex');
const cases = JSON.parse(readFileSync(new URL('./oid4vp_transcript.json', import.meta.url), 'utf8'));
let bad = 0;
for (const c of cases) {
  const opts = { clientId: c.client_id, nonce: c.nonce, responseUri: c.response_uri };
  if (c.jwk_thumbprint) opts.jwkThumbprint = new Uint8Array(Buffer.from(c.jwk_thumbprint, 'hex'));
  const st = await SessionTranscript.forOid4Vp(opts, ctx);
  const got = hex(st.encode());
  if (process.argv.includes('--print')) console.log(c.name, got);
  if (got !== c.session_transcript) {
    console.error(`${c.name}: @owf/mdoc gives ${got}, expected ${c.session_transcript}`);
    bad++;
  }
}
console.log(`oid4vp_transcript: ${cases.length - bad} of ${cases.length} agree with @owf/mdoc`);
process.exit(bad ? 1 : 0);
