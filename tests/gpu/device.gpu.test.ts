import { describe, expect, it } from 'vitest';
import { acquireDevice, GpuError } from '../../src/gpu/device';
import { readBuffer, testDevice } from '../helpers/gpu';

describe('WebGPU device in Node (Dawn)', () => {
  it('acquires a device and reports its capabilities', async () => {
    const { caps, adapterDescription } = await testDevice();
    expect(adapterDescription.length).toBeGreaterThan(0);
    expect(caps.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(caps.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(8);
    expect(typeof caps.f16).toBe('boolean');
  });

  it('runs a compute shader', async () => {
    const { device } = await testDevice();
    const n = 1000;
    const input = Float32Array.from({ length: n }, (_, i) => i * 0.5);
    const buf = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buf, 0, input);
    const module = device.createShaderModule({
      code: /* wgsl */ `
        @group(0) @binding(0) var<storage, read_write> v: array<f32>;
        @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
          if (id.x < arrayLength(&v)) { v[id.x] = v[id.x] * 2.0 + 1.0; }
        }`,
    });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }] });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(Math.ceil(n / 64));
    pass.end();
    device.queue.submit([enc.finish()]);
    const out = new Float32Array(await readBuffer(device, buf));
    expect(Array.from(out)).toEqual(Array.from(input, (x) => x * 2 + 1));
  });

  it('says clearly when WebGPU is missing', async () => {
    await expect(acquireDevice(undefined)).rejects.toThrowError(GpuError);
    await expect(acquireDevice(undefined)).rejects.toThrow(/WebGPU is not available/);
  });

  it('says clearly when there is no adapter', async () => {
    const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
    await expect(acquireDevice(noAdapter)).rejects.toThrow(/no GPU adapter/);
  });
});
