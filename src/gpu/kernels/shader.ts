// WGSL variants from one source per kernel family: a small preprocessor (#include, #if/#elif/#else/#endif,
// identifier defines), and pipelines cached by a typed key, in the manner of llama.cpp's WebGPU backend.

export type DefineValue = number | boolean | string;
export type Defines = Readonly<Record<string, DefineValue>>;

function truthy(expr: string, defines: Defines): boolean {
  if (expr.includes('||')) return expr.split('||').some((part) => truthy(part, defines));
  if (expr.includes('&&')) return expr.split('&&').every((part) => truthy(part, defines));
  const e = expr.trim();
  if (e.startsWith('!')) return !truthy(e.slice(1), defines);
  const eq = /^(\w+)\s*(==|!=)\s*(\w+)$/.exec(e);
  if (eq) {
    const v = String(defines[eq[1]!] ?? '');
    return eq[2] === '==' ? v === eq[3] : v !== eq[3];
  }
  const v = defines[e];
  return v !== undefined && v !== false && v !== 0;
}

function wgslLiteral(v: DefineValue): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}

/**
 * Expands `#include "name"` from `library`, keeps the lines whose `#if` chain holds, and replaces every
 * identifier named in `defines` by its value (numbers become WGSL literals as written: use `64u` strings for u32).
 */
export function preprocess(source: string, defines: Defines, library: Readonly<Record<string, string>> = {}): string {
  const out: string[] = [];
  // Each open #if: is this branch live, has any branch of the chain been taken, was the enclosing scope live.
  const stack: { live: boolean; taken: boolean; parentLive: boolean }[] = [];
  const live = (): boolean => stack.length === 0 || stack[stack.length - 1]!.live;
  const lines = source.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const d = /^\s*#(\w+)\s*(.*)$/.exec(line);
    if (!d) {
      if (live()) out.push(line);
      continue;
    }
    const [, directive, arg] = d as unknown as [string, string, string];
    if (directive === 'include') {
      if (!live()) continue;
      const name = /^"([^"]+)"/.exec(arg)?.[1];
      const text = name !== undefined ? library[name] : undefined;
      if (text === undefined) throw new Error(`WGSL: unknown #include ${arg}`);
      lines.splice(i + 1, 0, ...text.split('\n'));
    } else if (directive === 'if' || directive === 'ifdef') {
      const parentLive = live();
      const cond = parentLive && truthy(arg, defines);
      stack.push({ live: cond, taken: cond, parentLive });
    } else if (directive === 'elif') {
      const top = stack[stack.length - 1];
      if (!top) throw new Error('WGSL: #elif without #if');
      top.live = top.parentLive && !top.taken && truthy(arg, defines);
      top.taken ||= top.live;
    } else if (directive === 'else') {
      const top = stack[stack.length - 1];
      if (!top) throw new Error('WGSL: #else without #if');
      top.live = top.parentLive && !top.taken;
      top.taken = true;
    } else if (directive === 'endif') {
      if (!stack.pop()) throw new Error('WGSL: #endif without #if');
    } else {
      throw new Error(`WGSL: unknown directive #${directive}`);
    }
  }
  if (stack.length > 0) throw new Error('WGSL: unterminated #if');
  const names = Object.keys(defines);
  if (names.length === 0) return out.join('\n');
  const pattern = new RegExp(`\\b(${names.join('|')})\\b`, 'g');
  return out.join('\n').replace(pattern, (name) => wgslLiteral(defines[name]!));
}

/** A kernel variant: its family plus whatever distinguishes the compiled code. */
export interface KernelKey {
  readonly family: string;
  readonly [variant: string]: string | number | boolean;
}

export function keyString(key: KernelKey): string {
  return Object.keys(key)
    .sort()
    .map((k) => `${k}=${String(key[k])}`)
    .join(';');
}

/** A WGSL file: the name its pipelines are cached under, its text, and the files its `#include`s name. */
export interface WgslFile {
  readonly name: string;
  readonly code: string;
  readonly library?: Readonly<Record<string, string>>;
}

/**
 * The cache key of `file` compiled with `defines`: the file's name and every define, name and typed value, in
 * name order. Built from the very defines the code is compiled with, so no define can be left out of it.
 */
export function variantKey(file: WgslFile, defines: Defines): KernelKey {
  const canonical = Object.keys(defines)
    .sort()
    .map((name) => [name, defines[name]]);
  return { family: file.name, defines: JSON.stringify(canonical) };
}

export interface KernelSource {
  readonly code: string;
  readonly entryPoint: string;
}

/** Compiled pipelines by variant key; each is built once per device. */
export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();

  constructor(readonly device: GPUDevice) {}

  get(key: KernelKey, build: () => KernelSource): GPUComputePipeline {
    const k = keyString(key);
    let p = this.pipelines.get(k);
    if (!p) {
      const { code, entryPoint } = build();
      const module = this.device.createShaderModule({ code, label: k });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint }, label: k });
      this.pipelines.set(k, p);
    }
    return p;
  }

  get size(): number {
    return this.pipelines.size;
  }
}

/** The pipeline of `file`'s entry point `main` compiled with `defines`, built once per device and variantKey. */
export function pipelineFor(cache: PipelineCache, file: WgslFile, defines: Defines): GPUComputePipeline {
  return cache.get(variantKey(file, defines), () => ({ code: preprocess(file.code, defines, file.library), entryPoint: 'main' }));
}

// Bind groups are cached per pipeline and exact buffer set: a decode step re-binds the same weights,
// activations and pool buffers hundreds of times, and creating them anew each time costs CPU time per dispatch.
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 1;
const bindGroups = new WeakMap<GPUComputePipeline, Map<string, GPUBindGroup>>();
const MAX_CACHED_PER_PIPELINE = 4096;

function bindingKey(b: GPUBuffer | GPUBufferBinding): string {
  const buffer = 'buffer' in b ? b.buffer : b;
  let id = bufferIds.get(buffer);
  if (id === undefined) {
    id = nextBufferId++;
    bufferIds.set(buffer, id);
  }
  return 'buffer' in b ? `${id}@${b.offset ?? 0}+${b.size ?? ''}` : `${id}`;
}

/** Binds `buffers` to bindings 0..n-1 of group 0 and records one dispatch. */
export function dispatch(
  pass: GPUComputePassEncoder,
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  buffers: readonly (GPUBuffer | GPUBufferBinding)[],
  workgroups: readonly [number, number?, number?],
): void {
  let cache = bindGroups.get(pipeline);
  if (!cache) {
    cache = new Map();
    bindGroups.set(pipeline, cache);
  }
  const key = buffers.map(bindingKey).join(',');
  let bindGroup = cache.get(key);
  if (!bindGroup) {
    const entries = buffers.map((b, binding) => ({ binding, resource: 'buffer' in b ? b : { buffer: b } }));
    bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    if (cache.size >= MAX_CACHED_PER_PIPELINE) cache.clear();
    cache.set(key, bindGroup);
  }
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
}

/**
 * Splits `count` workgroups over x and y so that neither exceeds the per-dimension limit; kernels recover the
 * linear index as `wid.x + wid.y * num_workgroups.x` and skip indices past `count`.
 */
export function grid(count: number, maxPerDim: number): [number, number] {
  if (count <= maxPerDim) return [Math.max(1, count), 1];
  const y = Math.ceil(count / maxPerDim);
  return [Math.ceil(count / y), y];
}
