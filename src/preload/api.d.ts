import type { KvChatApi } from '../shared/api';

declare global {
  interface Window {
    readonly kvchat: KvChatApi;
  }
}
