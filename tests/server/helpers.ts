import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { createServer, type RunningServer, type ServerOptions } from '../../examples/server/server.mjs';

/** A fresh temporary directory, removed when the test ends. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fluxy-server-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A server on a free port, in memory and without static files unless told otherwise; closed when the test ends. */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const server = await createServer({ dataFile: null, staticDir: null, ...options });
  onTestFinished(() => server.close());
  return server;
}

export interface SendOptions {
  key?: string;
  headers?: Record<string, string>;
}

/** Sends a JSON request the way Fluxy's outbox does: JSON body, `Idempotency-Key` when given. */
export function send(
  server: RunningServer,
  method: string,
  path: string,
  body?: unknown,
  { key, headers = {} }: SendOptions = {},
): Promise<Response> {
  const allHeaders: Record<string, string> = { ...headers };
  if (key !== undefined) allHeaders['Idempotency-Key'] = key;
  if (body !== undefined) allHeaders['Content-Type'] = 'application/json';
  return fetch(`${server.url}${path}`, {
    method,
    headers: allHeaders,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

export async function getJson<T = unknown>(server: RunningServer, path: string): Promise<T> {
  const response = await fetch(`${server.url}${path}`);
  if (response.status !== 200) throw new Error(`GET ${path} → ${response.status}`);
  return (await response.json()) as T;
}

/** Scripts the next faults over HTTP, as a browser test would. */
export async function queueFaults(server: RunningServer, faults: unknown[]): Promise<void> {
  const response = await send(server, 'POST', '/api/_faults', faults);
  if (response.status !== 200)
    throw new Error(`POST /api/_faults → ${response.status}: ${await response.text()}`);
}

/**
 * A GET with the request target sent exactly as given (fetch would normalise `..` and `%2e%2e`).
 */
export function rawGet(server: RunningServer, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port: server.port, path, method: 'GET' }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

/** The network error fetch gives when the server drops the connection (RELIABILITY.md fact 1). */
export async function expectNetworkError(promise: Promise<Response>): Promise<unknown> {
  try {
    const response = await promise;
    throw new Error(`expected a network error, got HTTP ${response.status}`);
  } catch (error) {
    if (!(error instanceof TypeError) || error.message !== 'fetch failed') throw error;
    return error.cause;
  }
}
