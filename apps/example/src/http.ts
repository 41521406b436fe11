import type { IncomingMessage, ServerResponse } from "node:http";

/** A route handler: `params` holds the route pattern's capture groups. */
export type Handler = (req: IncomingMessage, res: ServerResponse, params: string[]) => Promise<void> | void;

export interface Route {
  method: "GET" | "POST" | "PUT";
  path: RegExp;
  handler: Handler;
}

/** An error that becomes an HTTP status and a JSON `{ error }` body. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const MAX_BODY = 64 * 1024;

/** The request's JSON body (at most 64 KiB). */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
    return value as Record<string, unknown>;
  } catch {
    throw new HttpError(400, "the request body must be a JSON object");
  }
}

/** A positive integer id from a path segment. */
export function idParam(raw: string | undefined): number {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id < 1) throw new HttpError(400, `not an id: ${JSON.stringify(raw)}`);
  return id;
}

/** Runs the first route that matches, or answers 404; errors become JSON answers and never crash the server. */
export async function dispatch(routes: readonly Route[], req: IncomingMessage, res: ServerResponse) {
  const path = (req.url ?? "/").split("?")[0]!;
  try {
    for (const route of routes) {
      if (route.method !== req.method) continue;
      const m = route.path.exec(path);
      if (m) return await route.handler(req, res, m.slice(1));
    }
    throw new HttpError(404, `no route for ${req.method} ${path}`);
  } catch (error) {
    const status = error instanceof HttpError ? error.status : 500;
    const message = error instanceof Error ? error.message : String(error);
    if (!res.headersSent) sendJson(res, status, { error: message });
    else res.destroy();
  }
}
