// Shared helpers for the tessera <-> @auth0/mdl interoperability scripts.
//
// All CBOR / COSE libraries are loaded through require() so that they are the
// very same (CommonJS) module instances that @auth0/mdl uses: cose-kit and
// cbor-x ship separate ESM and CJS builds, and @auth0/mdl registers its CBOR
// tag extensions (tag 24 DataItem, tag 0 tdate, tag 1004 full-date) on the
// CJS instance of cbor-x only.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export const require = createRequire(import.meta.url);

export function loadMdl() {
  return require('@auth0/mdl');
}

export function loadCbor() {
  // Make sure @auth0/mdl's tag extensions are registered before use.
  loadMdl();
  const cborx = require('cbor-x');
  const opts = {
    tagUint8Array: false,
    useRecords: false,
    mapsAsObjects: false,
    useTag259ForMaps: false,
    variableMapSize: true,
  };
  return {
    cborx,
    encode: (v) => new cborx.Encoder(opts).encode(v),
    decode: (b) => new cborx.Encoder(opts).decode(b),
  };
}

// ---- argument parsing -----------------------------------------------------

export function parseArgs(argv, spec) {
  // spec: { name: 'string' | 'bool' }
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument: ${a}`);
    const name = a.slice(2);
    if (!(name in spec)) throw new Error(`unknown option: ${a}`);
    if (spec[name] === 'bool') {
      out[name] = true;
    } else {
      if (i + 1 >= argv.length) throw new Error(`option ${a} needs a value`);
      out[name] = argv[++i];
    }
  }
  return out;
}

// ---- raw CBOR heads (for byte-exact splicing) ------------------------------

export function cborHead(major, len) {
  const m = major << 5;
  if (len < 24) return Buffer.from([m | len]);
  if (len < 0x100) return Buffer.from([m | 24, len]);
  if (len < 0x10000) { const b = Buffer.alloc(3); b[0] = m | 25; b.writeUInt16BE(len, 1); return b; }
  if (len < 0x100000000) { const b = Buffer.alloc(5); b[0] = m | 26; b.writeUInt32BE(len, 1); return b; }
  throw new Error('length too large');
}
export const cborBstr = (bytes) => Buffer.concat([cborHead(2, bytes.length), Buffer.from(bytes)]);
export const cborTstr = (s) => { const b = Buffer.from(s, 'utf8'); return Buffer.concat([cborHead(3, b.length), b]); };
// #6.24(bstr .cbor inner)
export const cborTag24 = (inner) => Buffer.concat([Buffer.from([0xd8, 0x18]), cborBstr(inner)]);

// Reads the length-prefixed content of a tag-24 item: returns the inner bytes,
// or null if `bytes` is not exactly one #6.24(bstr).
export function unwrapTag24(bytes) {
  const b = Buffer.from(bytes);
  if (b.length < 3 || b[0] !== 0xd8 || b[1] !== 0x18) return null;
  const ib = b[2];
  if ((ib >> 5) !== 2) return null;
  let ai = ib & 0x1f; let off = 3; let len;
  if (ai < 24) len = ai;
  else if (ai === 24) { len = b[off]; off += 1; }
  else if (ai === 25) { len = b.readUInt16BE(off); off += 2; }
  else if (ai === 26) { len = b.readUInt32BE(off); off += 4; }
  else return null;
  if (off + len !== b.length) return null;
  return b.subarray(off, off + len);
}

// ---- JSON view of element values -------------------------------------------
// Convention shared with check.mjs and (expected from) `tessera verify --json`:
//   tstr/int/bool/null -> as JSON; full-date (tag 1004) -> "YYYY-MM-DD";
//   tdate (tag 0) -> "YYYY-MM-DDTHH:MM:SSZ"; bstr -> base64url (no padding);
//   map -> object; array -> array.
export function toJsonValue(v, mdl) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64url');
  if (v instanceof Date) {
    if (v.constructor && v.constructor.name === 'DateOnly') return v.toISOString();
    return `${v.toISOString().split('.')[0]}Z`;
  }
  if (v instanceof Map) {
    const o = {};
    for (const [k, val] of v.entries()) o[String(k)] = toJsonValue(val, mdl);
    return o;
  }
  if (Array.isArray(v)) return v.map((x) => toJsonValue(x, mdl));
  if (mdl && v instanceof mdl.DataItem) return { tag24: toJsonValue(v.data, mdl) };
  if (typeof v === 'object' && 'tag' in v && 'value' in v) {
    if (v.tag === 1004 || v.tag === 0) return String(v.value);
    return { tag: v.tag, value: toJsonValue(v.value, mdl) };
  }
  if (typeof v === 'object') {
    const o = {};
    for (const [k, val] of Object.entries(v)) o[k] = toJsonValue(val, mdl);
    return o;
  }
  return String(v);
}

// CBOR kind of an element value as decoded by @auth0/mdl / cbor-x:
// "tstr" | "int" | "float" | "bool" | "null" | "bstr" | "full-date" | "tdate" |
// "array" | "map" | "tag<N>"
export function cborKind(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'tstr';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (v instanceof Uint8Array) return 'bstr';
  if (v instanceof Date) return v.constructor && v.constructor.name === 'DateOnly' ? 'full-date' : 'tdate';
  if (v instanceof Map) return 'map';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object' && 'tag' in v) return `tag${v.tag}`;
  return 'map';
}

// ---- keys -------------------------------------------------------------------

export function openssl(args, opts = {}) {
  return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

function pemBody(pem, label) {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`);
  const m = re.exec(pem);
  if (!m) throw new Error(`no ${label} PEM block found`);
  return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
}

// PKCS#8 P-256 private key PEM -> JWK {kty, crv, x, y, d} through WebCrypto.
// (Avoids node:crypto key generation/export, which can deadlock on Node 20.20.)
export async function privatePemToJwk(pem) {
  let der;
  if (pem.includes('BEGIN PRIVATE KEY')) der = pemBody(pem, 'PRIVATE KEY');
  else throw new Error('expected a PKCS#8 "PRIVATE KEY" PEM');
  const key = await globalThis.crypto.subtle.importKey(
    'pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
  const j = await globalThis.crypto.subtle.exportKey('jwk', key);
  return { kty: j.kty, crv: j.crv, x: j.x, y: j.y, d: j.d };
}

export async function publicPemToJwk(pem) {
  const der = pemBody(pem, 'PUBLIC KEY');
  const key = await globalThis.crypto.subtle.importKey(
    'spki', der, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
  const j = await globalThis.crypto.subtle.exportKey('jwk', key);
  return { kty: j.kty, crv: j.crv, x: j.x, y: j.y };
}

export function readText(p) { return readFileSync(p, 'utf8'); }
