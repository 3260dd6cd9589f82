import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { tempDir } from './helpers.js';

const SERVER = fileURLToPath(new URL('../../examples/server/server.mjs', import.meta.url));
const START = fileURLToPath(new URL('../../examples/start.mjs', import.meta.url));

function start(env: Record<string, string>): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [SERVER], { env: { ...process.env, ...env }, stdio: 'pipe' });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

/** Resolves with the URL from the start-up line, or rejects if the process exits first. */
function startupUrl(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const match = /^Fluxy notes server: (http:\/\/127\.0\.0\.1:(\d+)\/)$/.exec(line);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before starting: ${stderr}`)));
  });
}

function exitCode(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return once(child, 'exit').then(([code]) => code as number | null);
}

describe('node examples/server/server.mjs', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)(
    'starts on the port PORT=0 picked, serves, and exits 0 on %s with its data on disk',
    async (signal) => {
      const dataFile = join(await tempDir(), 'db.json');
      const child = start({ PORT: '0', DATA_FILE: dataFile });
      const url = await startupUrl(child);
      expect(url).not.toBe('http://127.0.0.1:0/');

      const health = await fetch(`${url}health`);
      expect(await health.json()).toStrictEqual({ ok: true });
      const created = await fetch(`${url}api/notes`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'cli-1' },
        body: JSON.stringify({ title: 'from the CLI test' }),
      });
      expect(created.status).toBe(201);

      const exited = exitCode(child);
      child.kill(signal);
      expect(await exited).toBe(0);
      const onDisk = JSON.parse(await readFile(dataFile, 'utf8'));
      expect(onDisk.notes[0].title).toBe('from the CLI test');
      expect(Object.keys(onDisk.keys)).toStrictEqual(['cli-1']);
    },
  );

  it('exits 1 with a message when PORT is not a port', async () => {
    const child = start({ PORT: 'eighty', DATA_FILE: ':memory:' });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    expect(await exitCode(child)).toBe(1);
    expect(stderr).toMatch(/could not start: .*port/);
  });
});

describe('npm start (examples/start.mjs)', () => {
  it('says plainly when its port is taken, and how to pick another', async () => {
    const holder = createServer();
    await new Promise<void>((listening) => holder.listen(0, '127.0.0.1', listening));
    onTestFinished(() => new Promise<void>((closed) => holder.close(() => closed())));
    const { port } = holder.address() as AddressInfo;
    const child = spawn(process.execPath, [START], {
      env: { ...process.env, PORT: String(port), DATA_FILE: ':memory:' },
      stdio: 'pipe',
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    expect(await exitCode(child)).toBe(1);
    // Before: "The server could not start: listen EADDRINUSE: address already in use …".
    expect(stderr).toContain(`Port ${port} on 127.0.0.1 is already in use`);
    expect(stderr).toContain('PORT=0 for any free port');
  }, 30_000);
});
