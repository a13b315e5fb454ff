import { defineConfig } from 'vitest/config';

// End-to-end: the built renderer in headless Chromium (WebGPU on SwiftShader) against the test host. One file at
// a time: Chromium's CPU WebGPU already takes both cores.
export default defineConfig({
  test: {
    include: ['tests/e2e/**/*.test.ts'],
    environment: 'node',
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
