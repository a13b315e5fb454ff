// What every kernel wrapper needs: the device, its capabilities, the pipeline cache and small buffer helpers.
import type { DeviceCapabilities, GpuContext } from '../device';
import { PipelineCache } from './shader';

export const STORAGE = 0x80; // GPUBufferUsage.STORAGE, spelled out so this module loads before WebGPU globals exist
export const COPY_SRC = 0x04;
export const COPY_DST = 0x08;
export const UNIFORM = 0x40;
export const MAP_READ = 0x01;

// A shader that fails to compile or a bad binding must fail loudly, not read back zeros: the first uncaptured
// error of each device is kept until a KernelContext checks.
const deviceErrors = new WeakMap<GPUDevice, { first: string | undefined }>();

function watchErrors(device: GPUDevice): void {
  if (deviceErrors.has(device)) return;
  const state = { first: undefined as string | undefined };
  deviceErrors.set(device, state);
  device.addEventListener('uncapturederror', (e) => {
    state.first ??= (e as GPUUncapturedErrorEvent).error.message;
  });
}

export class KernelContext {
  readonly device: GPUDevice;
  readonly caps: DeviceCapabilities;
  readonly pipelines: PipelineCache;
  private readonly uniforms = new Map<string, GPUBuffer>();

  constructor(readonly gpu: GpuContext) {
    this.device = gpu.device;
    this.caps = gpu.caps;
    this.pipelines = new PipelineCache(gpu.device);
    watchErrors(this.device);
  }

  /** Throws the first WebGPU error seen on the device since the last check (validation, out of memory, shader compile). */
  checkErrors(): void {
    const state = deviceErrors.get(this.device)!;
    const err = state.first;
    if (err !== undefined) {
      state.first = undefined;
      throw new Error(`WebGPU error: ${err}`);
    }
  }

  /** A storage buffer of `bytes` (rounded up to 4), zero-filled. */
  storage(bytes: number, label: string, extraUsage = 0): GPUBuffer {
    return this.device.createBuffer({ size: Math.max(4, Math.ceil(bytes / 4) * 4), usage: STORAGE | COPY_SRC | COPY_DST | extraUsage, label });
  }

  /** A storage buffer holding `data` (padded to a multiple of 4 bytes). */
  upload(data: ArrayBufferView, label: string): GPUBuffer {
    const buf = this.storage(data.byteLength, label);
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength % 4 === 0) {
      this.device.queue.writeBuffer(buf, 0, bytes);
    } else {
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      this.device.queue.writeBuffer(buf, 0, padded);
    }
    return buf;
  }

  /**
   * A uniform buffer of 32-bit words (u32 unless given as `{ f32: x }`), cached by content: kernel parameters
   * that depend only on model shapes are created once and shared by every step.
   */
  uniform(words: readonly (number | { f32: number })[]): GPUBuffer {
    const data = new ArrayBuffer(Math.max(16, Math.ceil((words.length * 4) / 16) * 16));
    const u32 = new Uint32Array(data);
    const f32 = new Float32Array(data);
    words.forEach((w, i) => {
      if (typeof w === 'number') u32[i] = w;
      else f32[i] = w.f32;
    });
    const key = Array.from(u32).join(',');
    let buf = this.uniforms.get(key);
    if (!buf) {
      buf = this.device.createBuffer({ size: data.byteLength, usage: UNIFORM | COPY_DST, label: `uniform(${key})` });
      this.device.queue.writeBuffer(buf, 0, data);
      this.uniforms.set(key, buf);
    }
    return buf;
  }

  /** Copies `bytes` bytes of `src` back to the host. */
  async read(src: GPUBuffer, bytes = src.size, offset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({ size, usage: COPY_DST | MAP_READ, label: 'readback' });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(src, offset, staging, 0, size);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(1 /* GPUMapMode.READ */);
    const copy = staging.getMappedRange().slice(0, bytes);
    staging.destroy();
    this.checkErrors();
    return copy;
  }

  /** Records `body` into one compute pass and submits it. */
  run(body: (pass: GPUComputePassEncoder) => void): void {
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    body(pass);
    pass.end();
    this.device.queue.submit([enc.finish()]);
  }
}
