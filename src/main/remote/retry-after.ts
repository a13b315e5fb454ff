// Retry-After (RFC 9110 10.2.3): either delay-seconds or an HTTP-date. Returns milliseconds to wait, or undefined
// when the header is absent or unreadable (the caller then backs off on its own schedule).
export function retryAfterMs(header: string | null, nowMs: number = Date.now()): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // Only a date-like value: Date.parse also accepts bare numbers such as "1.5", which are not valid here.
  if (!/[a-z]/i.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
