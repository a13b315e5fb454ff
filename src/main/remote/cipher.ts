// How an API key is kept at rest: encrypted by the OS keychain (Electron's safeStorage) before it reaches SQLite.
// The service only sees this interface, so tests run with a real AES-GCM cipher and no Electron.

export interface SecretCipher {
  encrypt(plain: string): Buffer;
  decrypt(encrypted: Buffer): string;
  /** False when the OS offers no keychain (e.g. Linux without a secret service): keys are then refused. */
  available(): boolean;
}

/** The slice of Electron's `safeStorage` this adapter uses (passed in, so nothing here imports Electron). */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plain: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only: 'basic_text' means a hard-coded password, i.e. no real protection. */
  getSelectedStorageBackend?(): string;
}

export function electronSafeStorageCipher(safeStorage: SafeStorageLike): SecretCipher {
  return {
    encrypt: (plain) => safeStorage.encryptString(plain),
    decrypt: (encrypted) => safeStorage.decryptString(encrypted),
    available: () =>
      safeStorage.isEncryptionAvailable() && safeStorage.getSelectedStorageBackend?.() !== 'basic_text',
  };
}
