// Types for scripts/after-pack.mjs (electron-builder loads the .mjs itself; the tests import it through these).
import type { FuseConfig, FuseV1Options } from '@electron/fuses';

export declare const KVCHAT_FUSES: Readonly<Partial<Record<keyof typeof FuseV1Options, boolean>>>;
export declare function fuseConfig(platform: string, arch: string | undefined): FuseConfig;

/** The part of electron-builder's AfterPackContext the hook reads. */
export interface AfterPackContextLike {
  readonly appOutDir: string;
  readonly electronPlatformName: string;
  /** electron-builder's Arch enum value. */
  readonly arch: number;
  readonly packager: { readonly appInfo: { readonly productFilename: string }; readonly executableName?: string };
}
export declare function packagedExecutable(context: AfterPackContextLike): string;
export default function afterPack(context: AfterPackContextLike): Promise<void>;
