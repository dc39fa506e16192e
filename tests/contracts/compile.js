#!/usr/bin/env node
// Compiles tests/contracts/src/*.sol with the pinned solcjs (standard-JSON API) and writes a
// Foundry-compatible artifact layout to tests/contracts/out/:
//
//   out/<File>.sol/<Contract>.json   abi, bytecode, deployedBytecode, methodIdentifiers,
//                                    metadata, rawMetadata, id (source id)
//   out/build-info/<hash>.json       id, source_id_to_path, solc version, input, output.sources
//
// Output is deterministic: keys are sorted, the source list is sorted, and <hash> is the first
// 32 hex chars of sha256(canonical input JSON). Running twice gives byte-identical files.
//
// Usage (from the repo root): npm ci && npm run compile-contracts
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const ROOT = __dirname; // tests/contracts
const SRC_DIR = path.join(ROOT, 'src');
const OUT_DIR = path.join(ROOT, 'out');
const PKG = require(path.join(ROOT, '..', '..', 'package.json'));

// Refuse to run with a solc other than the pinned one, so artifacts always match package.json.
const pinned = PKG.devDependencies.solc;
const solcVersion = solc.version(); // e.g. "0.8.37+commit.f401782d.Emscripten.clang"
if (!solcVersion.startsWith(pinned + '+')) {
  console.error(`solc ${solcVersion} does not match pinned version ${pinned}; run \`npm ci\``);
  process.exit(1);
}

// Recursively sort object keys (arrays keep their order) for stable serialisation.
function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    const out = {};
    for (const k of Object.keys(value).sort()) out[k] = canonical(value[k]);
    return out;
  }
  return value;
}

function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(canonical(value), null, 2) + '\n');
}

const files = fs
  .readdirSync(SRC_DIR)
  .filter((f) => f.endsWith('.sol'))
  .sort();

const sources = {};
for (const f of files) {
  sources[`src/${f}`] = { content: fs.readFileSync(path.join(SRC_DIR, f), 'utf8') };
}

const input = canonical({
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    metadata: { bytecodeHash: 'ipfs' },
    outputSelection: {
      '*': {
        '': ['ast'],
        '*': [
          'abi',
          'evm.bytecode.object',
          'evm.bytecode.sourceMap',
          'evm.bytecode.linkReferences',
          'evm.deployedBytecode.object',
          'evm.deployedBytecode.sourceMap',
          'evm.deployedBytecode.linkReferences',
          'evm.methodIdentifiers',
          'metadata',
        ],
      },
    },
  },
});

const inputJson = JSON.stringify(input);
const output = JSON.parse(solc.compile(inputJson));

let errorCount = 0;
for (const e of output.errors || []) {
  const msg = e.formattedMessage || e.message;
  if (e.severity === 'error') {
    errorCount++;
    console.error(msg);
  } else {
    console.warn(msg);
  }
}
if (errorCount > 0) {
  console.error(`compilation failed with ${errorCount} error(s)`);
  process.exit(1);
}

// Contract kinds from the AST, so interfaces may legitimately have empty bytecode.
const kinds = {};
for (const [srcPath, src] of Object.entries(output.sources)) {
  for (const node of src.ast.nodes) {
    if (node.nodeType === 'ContractDefinition') kinds[`${srcPath}:${node.name}`] = node.contractKind;
  }
}

const buildHash = crypto.createHash('sha256').update(inputJson).digest('hex').slice(0, 32);

fs.rmSync(OUT_DIR, { recursive: true, force: true });

const sourceIdToPath = {};
const outputSources = {};
const written = [];
let problems = 0;

for (const srcPath of Object.keys(output.sources).sort()) {
  const id = output.sources[srcPath].id;
  sourceIdToPath[String(id)] = srcPath;
  outputSources[srcPath] = { id };

  const contracts = output.contracts[srcPath] || {};
  for (const name of Object.keys(contracts).sort()) {
    const c = contracts[name];
    const kind = kinds[`${srcPath}:${name}`];
    if (kind === 'contract' && (!c.evm.deployedBytecode.object || !c.evm.bytecode.object)) {
      console.error(`${srcPath}:${name}: empty bytecode`);
      problems++;
    }
    const artifact = {
      abi: c.abi,
      bytecode: {
        object: '0x' + c.evm.bytecode.object,
        sourceMap: c.evm.bytecode.sourceMap,
        linkReferences: c.evm.bytecode.linkReferences || {},
      },
      deployedBytecode: {
        object: '0x' + c.evm.deployedBytecode.object,
        sourceMap: c.evm.deployedBytecode.sourceMap,
        linkReferences: c.evm.deployedBytecode.linkReferences || {},
      },
      methodIdentifiers: c.evm.methodIdentifiers,
      rawMetadata: c.metadata,
      metadata: JSON.parse(c.metadata),
      id,
    };
    const file = path.join(OUT_DIR, path.basename(srcPath), `${name}.json`);
    writeJson(file, artifact);
    written.push(
      `${path.relative(ROOT, file)} (${kind}, runtime ${(c.evm.deployedBytecode.object.length / 2) | 0} bytes)`
    );
  }
}

writeJson(path.join(OUT_DIR, 'build-info', `${buildHash}.json`), {
  id: buildHash,
  source_id_to_path: sourceIdToPath,
  language: 'Solidity',
  solcVersion: pinned,
  solcLongVersion: solcVersion,
  input,
  output: { sources: outputSources },
});

for (const line of written) console.log(line);
console.log(`build-info: out/build-info/${buildHash}.json`);
if (problems > 0) {
  console.error(`${problems} contract(s) with empty bytecode`);
  process.exit(1);
}
console.log(`compiled ${files.length} sources, ${written.length} artifacts with solc ${solcVersion}`);
