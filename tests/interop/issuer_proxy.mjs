#!/usr/bin/env node
// A forwarding proxy in front of `tessera authority serve` (the real issuer),
// to show how tessera's wallet client takes what other OpenID4VCI 1.0 issuers
// may send. Each request goes to the issuer unchanged; each answer comes back
// rewritten as the mode file says (read per request):
//
//   pass     unchanged
//   extra    every JSON answer (metadata, AS metadata, token, nonce, credential)
//            gains members the client does not know, at the top, in the
//            credential configurations and in every credentials[] entry
//            (OpenID4VCI 1.0: unknown members are ignored)
//   legacy   as extra, and each credential becomes Tessera's pre-1.0 form, the
//            map {"docType", "issuerSigned"} (still accepted, marked legacy)
//   devresp  each credential becomes a DeviceResponse holding it: not an
//            mso_mdoc credential, to be refused
//
// usage: node issuer_proxy.mjs --upstream-port-file F --port-file P --mode-file M
// Listens on 127.0.0.1 (port 0), writes its port to P; stops on SIGTERM.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs, cborHead, cborTstr, unwrapTag24, loadCbor } from './lib.mjs';

const args = parseArgs(process.argv.slice(2), {
  'upstream-port-file': 'string', 'port-file': 'string', 'mode-file': 'string',
});
const cbor = loadCbor();

function docTypeOf(issuerSigned) {
  const is = cbor.decode(issuerSigned);
  return cbor.decode(unwrapTag24(is.get('issuerAuth')[2])).get('docType');
}

function rewriteCredential(mode, b64) {
  const raw = Buffer.from(b64, 'base64url');
  const docType = docTypeOf(raw);
  let out;
  if (mode === 'legacy') {
    out = Buffer.concat([cborHead(5, 2), cborTstr('docType'), cborTstr(docType), cborTstr('issuerSigned'), raw]);
  } else {
    out = Buffer.concat([cborHead(5, 3), cborTstr('version'), cborTstr('1.0'), cborTstr('documents'),
      cborHead(4, 1), cborHead(5, 2), cborTstr('docType'), cborTstr(docType), cborTstr('issuerSigned'), raw,
      cborTstr('status'), Buffer.from([0])]);
  }
  return out.toString('base64url');
}

function rewrite(mode, path, v) {
  if (mode === 'pass' || typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  v.x_unknown_member = { nested: [1, 'two', null], note: 'ignored by conforming clients' };
  if (v.credential_configurations_supported) {
    for (const c of Object.values(v.credential_configurations_supported)) {
      c.x_vendor = { display: [{ name: 'x' }] };
      c.credential_metadata = { display: [{ name: 'Utopia eID', locale: 'en' }] };
    }
    v.display = [{ name: 'Utopia Ministry', locale: 'en' }];
  }
  if (path === '/token') v.c_nonce_expires_in = 300; // a member of older drafts
  if (Array.isArray(v.credentials)) {
    v.notification_id = 'n-1';
    for (const c of v.credentials) {
      c.x_per_credential = true;
      if ((mode === 'legacy' || mode === 'devresp') && typeof c.credential === 'string') {
        c.credential = rewriteCredential(mode, c.credential);
      }
    }
  }
  return v;
}

const server = createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const up = readFileSync(args['upstream-port-file'], 'utf8').trim();
    const mode = readFileSync(args['mode-file'], 'utf8').trim();
    const headers = {};
    for (const h of ['content-type', 'authorization', 'accept']) if (req.headers[h]) headers[h] = req.headers[h];
    const r = await fetch(`http://127.0.0.1:${up}${req.url}`, {
      method: req.method, headers, body: req.method === 'GET' ? undefined : body,
    });
    let out = Buffer.from(await r.arrayBuffer());
    const ctype = r.headers.get('content-type') || 'application/octet-stream';
    if (r.ok && ctype.startsWith('application/json')) {
      out = Buffer.from(JSON.stringify(rewrite(mode, req.url, JSON.parse(out.toString('utf8')))));
    }
    res.writeHead(r.status, { 'content-type': ctype, 'cache-control': 'no-store' });
    res.end(out);
  } catch (e) {
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'proxy_error', error_description: String(e.message) }));
  }
});
server.listen(0, '127.0.0.1', () => writeFileSync(args['port-file'], `${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
