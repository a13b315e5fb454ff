// The time, as state that moves on every `intervalMs`: renders stay pure, and "Today" becomes "Yesterday" at midnight
// without a reload.
import { useEffect, useState } from 'react';

export function useClock(intervalMs = 60_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}
