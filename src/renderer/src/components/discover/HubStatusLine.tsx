// What a Hub request is doing: searching, offline (the Hub unreachable), or the Hub's own error.
import type { HubStatus } from '../../hooks/useDiscover';

export function HubStatusLine({ status, endpoint, testId }: { status: HubStatus; endpoint: string | undefined; testId: string }) {
  switch (status.kind) {
    case 'idle':
      return null;
    case 'busy':
      return (
        <p className="muted" role="status" data-testid={testId} data-kind="busy">
          Asking the Hub…
        </p>
      );
    case 'offline':
      return (
        <p className="error" role="alert" data-testid={testId} data-kind="offline">
          Offline: {endpoint ?? 'the Hub'} cannot be reached. Check the connection (or the Hub endpoint in the settings below); the models you have keep working.
        </p>
      );
    case 'error':
      return (
        <p className="error" role="alert" data-testid={testId} data-kind="error">
          {status.message}
        </p>
      );
  }
}
