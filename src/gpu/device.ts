// Adapter and device acquisition: the one place that decides which kernel variants a device gets.

export type GpuErrorCode = 'no-webgpu' | 'no-adapter' | 'device-request-failed' | 'device-lost' | 'limit-exceeded';

/** WebGPU is missing, refused us a device, lost the device, or cannot hold what was asked of it. */
export class GpuError extends Error {
  readonly code: GpuErrorCode;

  constructor(code: GpuErrorCode, message: string) {
    super(message);
    this.name = 'GpuError';
    this.code = code;
  }
}

/** What the kernels may rely on. */
export interface DeviceCapabilities {
  /** `shader-f16`: f16 arithmetic in WGSL (`enable f16;`). Without it, kernels take their f32 path. */
  readonly f16: boolean;
  readonly subgroups: boolean;
  readonly timestampQuery: boolean;
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxStorageBuffersPerShaderStage: number;
  /**
   * A CPU implementation of Vulkan (SwiftShader, llvmpipe/lavapipe): workgroups run as coroutines on a few cores,
   * so kernels that synchronize less (fewer threads per matvec row) run faster there.
   */
  readonly softwareAdapter: boolean;
}

export interface GpuContext {
  readonly device: GPUDevice;
  readonly caps: DeviceCapabilities;
  /** Vendor / architecture / description as the adapter reports them, for logs and benchmarks. */
  readonly adapterDescription: string;
  /** Resolves when the device is lost (the engine reloads and resumes from swapped KV). */
  readonly lost: Promise<GpuError>;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Take the f32 path even where `shader-f16` exists (tests exercise both). */
  disableF16?: boolean;
}

// Limits below these make the engine's kernels impossible; WebGPU's own defaults already meet them.
const MIN_STORAGE_BUFFERS_PER_STAGE = 8;

const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

function describeAdapter(adapter: GPUAdapter): string {
  const info = adapter.info;
  const parts = [info?.vendor, info?.architecture, info?.device, info?.description].filter((s) => s && s.length > 0);
  return parts.length > 0 ? parts.join(' / ') : 'unknown adapter';
}

/**
 * Requests an adapter and a device with the adapter's own maxima for the limits the engine depends on
 * (a browser otherwise caps storage bindings at 128 MiB), and the optional features the kernels use.
 */
export async function acquireDevice(gpu: GPU | undefined, options: AcquireOptions = {}): Promise<GpuContext> {
  if (!gpu) {
    throw new GpuError('no-webgpu', 'WebGPU is not available here. The engine needs a WebGPU-capable GPU and browser runtime (Chrome/Edge 113+, Electron 28+).');
  }
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new GpuError('no-adapter', 'WebGPU is present but found no GPU adapter (no GPU, a blocklisted driver, or a missing Vulkan/Metal/D3D12 driver).');
  }
  if (adapter.limits.maxStorageBuffersPerShaderStage < MIN_STORAGE_BUFFERS_PER_STAGE) {
    throw new GpuError('limit-exceeded', `the GPU allows ${adapter.limits.maxStorageBuffersPerShaderStage} storage buffers per shader stage; the engine needs ${MIN_STORAGE_BUFFERS_PER_STAGE}`);
  }
  const wantF16 = !options.disableF16 && adapter.features.has('shader-f16');
  const features: GPUFeatureName[] = [];
  if (wantF16) features.push('shader-f16');
  if (adapter.features.has('subgroups')) features.push('subgroups' as GPUFeatureName);
  if (adapter.features.has('timestamp-query')) features.push('timestamp-query');
  const requiredLimits: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) requiredLimits[name] = adapter.limits[name];

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
  } catch (e) {
    throw new GpuError('device-request-failed', `the GPU adapter refused a device: ${(e as Error).message}`);
  }
  const lost = device.lost.then((info) => new GpuError('device-lost', `the GPU device was lost (${info.reason}): ${info.message}`));
  const l = device.limits;
  return {
    device,
    adapterDescription: describeAdapter(adapter),
    lost,
    caps: {
      f16: device.features.has('shader-f16'),
      subgroups: device.features.has('subgroups'),
      timestampQuery: device.features.has('timestamp-query'),
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      softwareAdapter: /swiftshader|llvmpipe|lavapipe|software/i.test(describeAdapter(adapter)),
    },
  };
}

/** Runs `body` inside validation and out-of-memory error scopes and throws the first error either caught. */
export async function withErrorScopes<T>(device: GPUDevice, what: string, body: () => T): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  const result = body();
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  if (oom) throw new GpuError('limit-exceeded', `${what}: the GPU ran out of memory (${oom.message})`);
  if (validation) throw new Error(`${what}: WebGPU validation error: ${validation.message}`);
  return result;
}
