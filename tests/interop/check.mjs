#!/usr/bin/env node
// Compare a verifier's JSON verdict with an expected.json.
//
// usage: node check.mjs --result result.json --expected expected.json [--subset] [--label NAME]
//
// result.json: the JSON printed by verify.mjs or by `tessera verify --json`:
//   {"valid": true, "elements": {ns: {elem: value}}, ...}
//   (also accepted: elements under "documents": [{"docType", "elements"|"nameSpaces"}])
// expected.json: {"docType"?, "elements": {ns: {elem: value}}, "types"?: {ns: {elem: kind}}}
// Values compare as JSON after unwrapping {"tag": N, "value": v} objects; full-dates
// are "YYYY-MM-DD" and byte strings base64url. Without --subset the disclosed
// element set must equal the expected one exactly. "types" are only compared when
// both sides have them. Exit 0 on match, 1 on mismatch, 2 on usage/parse errors.
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { parseArgs } from './lib.mjs';

let args;
try {
  args = parseArgs(process.argv.slice(2), { result: 'string', expected: 'string', subset: 'bool', label: 'string' });
  if (!args.result || !args.expected) throw new Error('--result and --expected are required');
} catch (e) {
  process.stderr.write(`check.mjs: ${e.message}\n`);
  process.exit(2);
}
const label = args.label ? `${args.label}: ` : '';

function readJson(path, what) {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    // tolerate log lines around the JSON object
    const a = text.indexOf('{'); const b = text.lastIndexOf('}');
    if (a >= 0 && b > a) {
      try { return JSON.parse(text.slice(a, b + 1)); } catch { /* fall through */ }
    }
    process.stderr.write(`check.mjs: ${label}${what} ${path} is not JSON: ${e.message}\n${text.slice(0, 2000)}\n`);
    process.exit(2);
  }
}

const result = readJson(args.result, 'result');
const expected = readJson(args.expected, 'expected');

const norm = (v) => {
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 2 && 'tag' in v && 'value' in v) return norm(v.value);
    return Object.fromEntries(keys.map((k) => [k, norm(v[k])]));
  }
  return v;
};

function elementsOf(r) {
  if (r.elements) return { elements: r.elements, types: r.types };
  const elements = {}; const types = {};
  for (const d of r.documents || []) {
    const e = d.elements || d.nameSpaces || d.issuerSigned || {};
    for (const [ns, m] of Object.entries(e)) elements[ns] = { ...(elements[ns] || {}), ...m };
    for (const [ns, m] of Object.entries(d.types || {})) types[ns] = { ...(types[ns] || {}), ...m };
  }
  return { elements, types: Object.keys(types).length ? types : undefined };
}

const problems = [];
if (result.valid !== true) problems.push(`verdict is not valid: "valid": ${JSON.stringify(result.valid)}, error: ${JSON.stringify(result.error ?? null)}`);
const docType = result.docType ?? result.documents?.[0]?.docType;
if (expected.docType && docType !== undefined && docType !== expected.docType) {
  problems.push(`docType ${JSON.stringify(docType)} != expected ${JSON.stringify(expected.docType)}`);
}
const got = elementsOf(result);
for (const [ns, elems] of Object.entries(expected.elements || {})) {
  for (const [id, want] of Object.entries(elems)) {
    if (!got.elements?.[ns] || !(id in got.elements[ns])) {
      problems.push(`missing element ${ns}/${id}`);
      continue;
    }
    const have = got.elements[ns][id];
    if (!isDeepStrictEqual(norm(have), norm(want))) {
      problems.push(`element ${ns}/${id}: got ${JSON.stringify(have)}, expected ${JSON.stringify(want)}`);
    }
    const wantType = expected.types?.[ns]?.[id];
    const haveType = got.types?.[ns]?.[id];
    if (wantType && haveType && wantType !== haveType) {
      problems.push(`element ${ns}/${id}: CBOR type ${haveType}, expected ${wantType}`);
    }
  }
}
if (!args.subset) {
  for (const [ns, elems] of Object.entries(got.elements || {})) {
    for (const id of Object.keys(elems)) {
      if (!(expected.elements?.[ns] && id in expected.elements[ns])) problems.push(`unexpected disclosed element ${ns}/${id}`);
    }
  }
}
if (problems.length) {
  for (const p of problems) process.stderr.write(`check.mjs: ${label}${p}\n`);
  process.exit(1);
}
process.stdout.write(`check.mjs: ${label}ok (${Object.values(expected.elements || {}).reduce((n, m) => n + Object.keys(m).length, 0)} elements match)\n`);
