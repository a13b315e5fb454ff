// Web permissions (camera, microphone, notifications, geolocation, USB, HID, serial, …): Electron grants every
// request by default. KVChat uses one, clipboard-sanitized-write (the copy button under a message calls
// navigator.clipboard.writeText), and only from its own page; everything else is denied. WebGPU needs no permission.
// Plain module: installPermissionHandlers takes the session as an argument so tests pass a stand-in.
import type { Session } from 'electron';

/** The permissions the app's own page may use, asked for (request handler) or checked (check handler). */
export const ALLOWED_PERMISSIONS: ReadonlySet<string> = new Set(['clipboard-sanitized-write']);

/** The origin of a URL (`app://kvchat`, `http://localhost:5173`), or null when it has none (file:, data:). */
export function originOf(url: string | undefined): string | null {
  if (!url) return null;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  // Node's URL gives custom schemes an opaque origin; Chromium gives a scheme registered as standard (app:) a
  // scheme://host origin like http's.
  if (u.origin !== 'null') return u.origin;
  return u.host ? `${u.protocol}//${u.host}` : null;
}

export interface PermissionAsk {
  readonly permission: string;
  /** The origin (check handler) or the URL (request handler) of the frame that asks. */
  readonly requestingUrl: string | undefined;
  /** False for a sub-frame; undefined where Electron does not say. */
  readonly isMainFrame?: boolean | undefined;
}

/** Whether to grant: only an allowed permission, from the app's own origin, in its main frame. */
export function permissionAllowed(ask: PermissionAsk, appOrigins: readonly string[]): boolean {
  if (!ALLOWED_PERMISSIONS.has(ask.permission)) return false;
  if (ask.isMainFrame === false) return false;
  const origin = originOf(ask.requestingUrl);
  return origin !== null && appOrigins.includes(origin);
}

type PermissionSession = Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler' | 'setDevicePermissionHandler'>;

/**
 * Installs the decision on `session` (the default session, before the window loads). `appOrigins`: where the
 * renderer is served from, `app://kvchat` in a packaged app and also the dev server's origin in development.
 */
export function installPermissionHandlers(session: PermissionSession, appOrigins: readonly string[]): void {
  session.setPermissionRequestHandler((_webContents, permission, callback, details) => {
    callback(permissionAllowed({ permission, requestingUrl: details.requestingUrl, isMainFrame: details.isMainFrame }, appOrigins));
  });
  session.setPermissionCheckHandler((_webContents, permission, requestingOrigin, details) =>
    permissionAllowed({ permission, requestingUrl: requestingOrigin || details.requestingUrl, isMainFrame: details.isMainFrame }, appOrigins),
  );
  // WebHID, WebUSB, Web Serial: the app talks to no device.
  session.setDevicePermissionHandler(() => false);
}
