/**
 * Talking to the coordinator that served the page (same origin). Reads need nothing; actions need
 * the API token, which the operator types once per tab: it is kept in sessionStorage only, so it
 * goes away with the tab and is never written anywhere that outlives it.
 */
const TOKEN_KEY = 'kage.apiToken';

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value: string | null): void {
  if (value === null || value === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
}

export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(await errorText(res));
  return (await res.json()) as T;
}

export interface ActionAnswer {
  ok: boolean;
  status: number;
  body: unknown;
  message: string;
}

/** A POST with the token; the answer (the agent's, for service actions) whatever its status. */
export async function post(path: string, body?: unknown): Promise<ActionAnswer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const t = token();
  if (t !== null) headers['authorization'] = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method: 'POST',
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: the text itself is shown
  }
  const message =
    typeof parsed === 'object' && parsed !== null && 'message' in parsed
      ? String(parsed.message)
      : res.ok
        ? 'done'
        : `HTTP ${res.status}`;
  return { ok: res.ok, status: res.status, body: parsed, message };
}

async function errorText(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { message?: string };
    return body.message ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}
