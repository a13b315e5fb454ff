// Web permissions: only clipboard-sanitized-write (the copy button), only for the app's own page in its main
// frame; every other permission, origin or sub-frame is denied, through both of the session's handlers, and no
// device (HID, USB, serial) is ever granted.
import type { Session } from 'electron';
import { describe, expect, it } from 'vitest';
import { ALLOWED_PERMISSIONS, installPermissionHandlers, originOf, permissionAllowed } from '../../src/main/permissions';

const APP = ['app://kvchat'];
const DEV = ['app://kvchat', 'http://localhost:5173'];

// Every permission Electron 38 names in its request and check handlers.
const ELECTRON_PERMISSIONS = [
  'clipboard-read', 'clipboard-sanitized-write', 'deprecated-sync-clipboard-read', 'display-capture', 'fileSystem', 'fullscreen',
  'geolocation', 'hid', 'idle-detection', 'keyboardLock', 'media', 'mediaKeySystem', 'midi', 'midiSysex', 'notifications',
  'openExternal', 'pointerLock', 'serial', 'speaker-selection', 'storage-access', 'top-level-storage-access', 'unknown', 'usb',
  'window-management',
];

describe('permissionAllowed', () => {
  it('grants only clipboard-sanitized-write to the app page', () => {
    const granted = ELECTRON_PERMISSIONS.filter((permission) => permissionAllowed({ permission, requestingUrl: 'app://kvchat/index.html', isMainFrame: true }, APP));
    expect(granted).toEqual(['clipboard-sanitized-write']);
    expect([...ALLOWED_PERMISSIONS]).toEqual(['clipboard-sanitized-write']);
  });

  it('denies other origins, sub-frames and requests without a usable origin', () => {
    const ask = (requestingUrl: string | undefined, isMainFrame?: boolean) =>
      permissionAllowed({ permission: 'clipboard-sanitized-write', requestingUrl, isMainFrame }, APP);
    expect(ask('app://kvchat')).toBe(true);
    expect(ask('app://kvchat/index.html', undefined)).toBe(true);
    expect(ask('app://kvchat/index.html', false)).toBe(false);
    for (const url of ['app://evil/index.html', 'https://example.com/', 'file:///etc/passwd', 'kvchat-model://abc', 'http://localhost:5173/', 'data:text/html,x', '', undefined, 'not a url']) {
      expect([url, ask(url)]).toEqual([url, false]);
    }
  });

  it("grants the dev server's origin only when main lists it (development)", () => {
    const ask = { permission: 'clipboard-sanitized-write', requestingUrl: 'http://localhost:5173/', isMainFrame: true };
    expect(permissionAllowed(ask, APP)).toBe(false);
    expect(permissionAllowed(ask, DEV)).toBe(true);
    expect(permissionAllowed({ ...ask, requestingUrl: 'http://localhost:5174/' }, DEV)).toBe(false);
  });

  it('originOf: a standard origin, or null for opaque ones', () => {
    expect(originOf('app://kvchat/assets/index.js')).toBe('app://kvchat');
    expect(originOf('http://localhost:5173/src/main.tsx')).toBe('http://localhost:5173');
    expect(originOf('data:text/html,hi')).toBeNull();
    expect(originOf(undefined)).toBeNull();
  });
});

describe('installPermissionHandlers', () => {
  type RequestHandler = NonNullable<Parameters<Session['setPermissionRequestHandler']>[0]>;
  type CheckHandler = NonNullable<Parameters<Session['setPermissionCheckHandler']>[0]>;
  type DeviceHandler = NonNullable<Parameters<Session['setDevicePermissionHandler']>[0]>;

  function standIn() {
    const installed: { request?: RequestHandler; check?: CheckHandler; device?: DeviceHandler } = {};
    const session = {
      setPermissionRequestHandler: (h: RequestHandler) => void (installed.request = h),
      setPermissionCheckHandler: (h: CheckHandler) => void (installed.check = h),
      setDevicePermissionHandler: (h: DeviceHandler) => void (installed.device = h),
    } as unknown as Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler' | 'setDevicePermissionHandler'>;
    installPermissionHandlers(session, APP);
    return { request: installed.request!, check: installed.check!, device: installed.device! };
  }

  const request = (h: RequestHandler, permission: string, requestingUrl: string, isMainFrame = true): boolean => {
    let answer: boolean | undefined;
    h({} as never, permission as never, (granted) => (answer = granted), { requestingUrl, isMainFrame } as never);
    expect(answer).toBeDefined();
    return answer!;
  };

  it('the request handler answers every request, granting only the copy button', () => {
    const { request: h } = standIn();
    expect(request(h, 'clipboard-sanitized-write', 'app://kvchat/index.html')).toBe(true);
    for (const p of ELECTRON_PERMISSIONS.filter((p) => p !== 'clipboard-sanitized-write')) expect([p, request(h, p, 'app://kvchat/index.html')]).toEqual([p, false]);
    expect(request(h, 'clipboard-sanitized-write', 'https://example.com/')).toBe(false);
    expect(request(h, 'clipboard-sanitized-write', 'app://kvchat/index.html', false)).toBe(false);
  });

  it('the check handler uses the requesting origin', () => {
    const { check } = standIn();
    expect(check(null, 'clipboard-sanitized-write', 'app://kvchat', { isMainFrame: true } as never)).toBe(true);
    expect(check(null, 'clipboard-read', 'app://kvchat', { isMainFrame: true } as never)).toBe(false);
    expect(check(null, 'media', 'app://kvchat', { isMainFrame: true, mediaType: 'video' } as never)).toBe(false);
    expect(check(null, 'clipboard-sanitized-write', 'https://example.com', { isMainFrame: true } as never)).toBe(false);
    expect(check(null, 'clipboard-sanitized-write', '', { isMainFrame: true, requestingUrl: 'app://kvchat/index.html' } as never)).toBe(true);
  });

  it('no device is ever granted', () => {
    const { device } = standIn();
    expect(device({ deviceType: 'usb', origin: 'app://kvchat', device: {} } as never)).toBe(false);
    expect(device({ deviceType: 'hid', origin: 'app://kvchat', device: {} } as never)).toBe(false);
  });
});
