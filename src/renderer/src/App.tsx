import { useEffect, useState } from 'react';
import type { AppInfo } from '../../shared/api';

export function App(): React.JSX.Element {
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [webgpu] = useState(() => typeof navigator !== 'undefined' && 'gpu' in navigator);

  useEffect(() => {
    void window.kvchat?.getAppInfo().then((r) => r.ok && setInfo(r.value));
  }, []);

  return (
    <main style={{ fontFamily: 'system-ui, sans-serif', padding: 24 }}>
      <h1>KVChat</h1>
      <p>{webgpu ? 'WebGPU is available.' : 'WebGPU is not available: this app needs a WebGPU-capable GPU.'}</p>
      {info && (
        <p>
          {info.name} {info.version} on {info.platform} (Electron {info.electron})
        </p>
      )}
    </main>
  );
}
