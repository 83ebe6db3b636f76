// Decodes a Web API request the way Slack does: form-encoded or JSON, with nested values
// (blocks, view, …) arriving as JSON strings because @slack/web-api JSON-stringifies non-scalars.

const JSON_FIELDS = ['blocks', 'attachments', 'view', 'metadata'] as const;

export function parseApiBody(raw: string, contentType: string | undefined, query: URLSearchParams): Record<string, unknown> {
  const args: Record<string, unknown> = Object.fromEntries(query);
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    Object.assign(args, parseJsonObject(raw));
  } else if (type !== 'multipart/form-data') {
    // Slack treats a missing type or text/plain like a form; so do we.
    Object.assign(args, Object.fromEntries(new URLSearchParams(raw)));
  }
  for (const field of JSON_FIELDS) {
    const value = args[field];
    if (typeof value === 'string' && /^\s*[[{]/.test(value)) {
      try {
        args[field] = JSON.parse(value);
      } catch {
        // Leave it as sent: the route will answer invalid_blocks/invalid_arguments like Slack would.
      }
    }
  }
  return args;
}

export function parseJsonObject(raw: string): Record<string, unknown> {
  if (raw.trim() === '') return {};
  const parsed: unknown = JSON.parse(raw);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SyntaxError('expected a JSON object');
  return parsed as Record<string, unknown>;
}

/** Form and JSON bodies disagree on scalars ("true" vs true); routes read them through these. */
export function str(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

export function bool(value: unknown): boolean {
  return value === true || value === 'true' || value === '1' || value === 1;
}
