// Every payload the renderer sends is parsed here before any handler sees it, by the schemas of the shared contract
// (src/shared/api-schemas.ts): exact shapes, bounded strings and numbers. A malformed payload becomes an
// ApiInputError a user can read.
import type { z } from 'zod';
import { API_SCHEMAS, type ApiMethod, type ApiPayload } from '../shared/api-schemas';

export { API_SCHEMAS, LIMITS, type ApiMethod, type ApiPayload, type ApiRequest } from '../shared/api-schemas';

/** A payload that failed validation: code 'invalid-request', and which field was wrong and why. */
export class ApiInputError extends Error {
  readonly code = 'invalid-request';

  constructor(message: string) {
    super(message);
    this.name = 'ApiInputError';
  }
}

function describeIssues(method: string, error: z.ZodError): string {
  const issues = error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
  const text = `Invalid request to ${method}: ${issues.join('; ')}`;
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

export function parsePayload<M extends ApiMethod>(method: M, raw: unknown): ApiPayload<M> {
  const schema: z.ZodType = API_SCHEMAS[method];
  const result = schema.safeParse(raw);
  if (!result.success) throw new ApiInputError(describeIssues(method, result.error));
  return result.data as ApiPayload<M>;
}
