// The one place GPU tests get their device. Every GPU test runs for real: no adapter is a failure, not a skip.
// Set KVCHAT_TEST_F32=1 to force the f32 kernel path on a device that has shader-f16.
import { acquireNodeDevice } from '../../src/node/dawn-device';
import { GpuError, type GpuContext } from '../../src/gpu/device';

let context: Promise<GpuContext> | undefined;

export function testDevice(): Promise<GpuContext> {
  context ??= acquireNodeDevice({ disableF16: process.env.KVCHAT_TEST_F32 === '1' }).catch((e: unknown) => {
    const hint = `VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? '(unset)'}; run scripts/install-system-deps.sh for Chromium's SwiftShader driver and the Vulkan loader`;
    if (e instanceof GpuError) throw new GpuError(e.code, `${e.message} (${hint})`);
    throw e;
  });
  return context;
}

/** Copies a GPU buffer's first `bytes` bytes back to the host. */
export async function readBuffer(device: GPUDevice, src: GPUBuffer, bytes = src.size): Promise<ArrayBuffer> {
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, staging, 0, bytes);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0);
  staging.destroy();
  return copy;
}
