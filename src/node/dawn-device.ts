// WebGPU in Node through Dawn (the `webgpu` package): the CLI's, the benchmarks' and the tests' device.
import { create, globals } from 'webgpu';
import { acquireDevice, type AcquireOptions, type GpuContext } from '../gpu/device';

// Dawn's GPU object must outlive every device made from it: if it is garbage-collected, the process aborts.
let dawn: GPU | undefined;

/** Dawn's navigator.gpu equivalent, created once per process. WebGPU's globals (GPUBufferUsage...) are installed. */
export function nodeGpu(): GPU {
  if (!dawn) {
    Object.assign(globalThis, globals);
    dawn = create([]) as GPU;
  }
  return dawn;
}

export function acquireNodeDevice(options: AcquireOptions = {}): Promise<GpuContext> {
  return acquireDevice(nodeGpu(), options);
}
