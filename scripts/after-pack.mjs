// electron-builder's afterPack hook (electron-builder.yml `afterPack`): flips Electron's fuses in the packaged
// executable, after the app is copied in and before electron-builder signs it (flipping changes the binary, so it
// must come before any signature). Fuses are bits compiled into Electron that no command line, environment
// variable or app code can change back at run time: https://www.electronjs.org/docs/latest/tutorial/fuses
//
// EnableEmbeddedAsarIntegrityValidation and OnlyLoadAppFromAsar rely on electron-builder's asar integrity: with
// `asar: true` it records the hash of app.asar's header in Info.plist (macOS) and in a resource of the .exe
// (Windows), and Electron refuses a modified app.asar there. Electron implements that check only on macOS and
// Windows: on Linux the integrity fuse does nothing, while OnlyLoadAppFromAsar still holds (the app is loaded from
// app.asar only, never from a loose resources/app folder someone drops beside it).
import builder from 'electron-builder';
import fuses from '@electron/fuses';
import { join } from 'node:path';

const { flipFuses, FuseV1Options, FuseVersion } = fuses;

/** Every fuse KVChat sets, by its @electron/fuses name; the others keep Electron's defaults. */
export const KVCHAT_FUSES = Object.freeze({
  // ELECTRON_RUN_AS_NODE=1 would turn the signed executable into a plain Node.js for any script.
  RunAsNode: false,
  // Cookies on disk encrypted with the OS keychain key, like the remote API keys (safeStorage).
  EnableCookieEncryption: true,
  // NODE_OPTIONS (--require, --import) could load code into main.
  EnableNodeOptionsEnvironmentVariable: false,
  // --inspect / --inspect-brk would open a debugger port on main.
  EnableNodeCliInspectArguments: false,
  EnableEmbeddedAsarIntegrityValidation: true,
  OnlyLoadAppFromAsar: true,
});

/**
 * The @electron/fuses config for one packaged app. On Apple Silicon a modified binary needs a fresh ad-hoc
 * signature to start at all (electron-builder then signs the app again with `mac.identity`).
 */
export function fuseConfig(platform, arch) {
  const config = { version: FuseVersion.V1, resetAdHocDarwinSignature: platform === 'darwin' && arch === 'arm64' };
  for (const [name, value] of Object.entries(KVCHAT_FUSES)) config[FuseV1Options[name]] = value;
  return config;
}

/** The packaged executable (the .app bundle on macOS), as electron-builder names it for each platform. */
export function packagedExecutable(context) {
  const { appOutDir, electronPlatformName, packager } = context;
  switch (electronPlatformName) {
    case 'darwin':
    case 'mas':
      return join(appOutDir, `${packager.appInfo.productFilename}.app`);
    case 'win32':
      return join(appOutDir, `${packager.appInfo.productFilename}.exe`);
    case 'linux':
      return join(appOutDir, packager.executableName);
    default:
      throw new Error(`after-pack: no Electron executable known for platform ${electronPlatformName}`);
  }
}

export default async function afterPack(context) {
  const executable = packagedExecutable(context);
  await flipFuses(executable, fuseConfig(context.electronPlatformName, builder.Arch[context.arch]));
}
