/**
 * Upload load: every user uploads its share of the files back to back, all users at once.
 * `ours` posts to POST /api/v1/documents and times each document until it is `ready` (watched with
 * one status query for all pending documents, so watching adds no load to the API; the API is
 * asked once at the end); `baseline` posts to the store-only server, where the answer means
 * stored; `extract` times extraction and chunking alone, in this process, file after file.
 */
import { Client } from 'pg';
import { chunkSections } from '../../../src/documents/chunker.js';
import { extractSections } from '../../../src/documents/extraction/extractor.js';
import { pdfOfPages, textDocument, vocabulary } from '../knowledge/corpus.js';
import { params, percentile } from '../lib.js';

export interface UploadFile {
  name: string;
  kind: 'text' | 'markdown' | 'pdf';
  /** Bytes for text, pages for PDF. */
  size: number;
  seed: number;
}

interface Params {
  mode: 'ours' | 'baseline' | 'extract';
  url: string;
  databaseUrl: string;
  users: { id: string; token: string }[];
  files: UploadFile[];
}

const MEDIA_TYPES = { text: 'text/plain', markdown: 'text/markdown', pdf: 'application/pdf' } as const;
/** How often pending documents are looked up: the resolution of time-to-ready. */
const WATCH_MS = 10;

const p = params<Params>();
const words = vocabulary(20_000, 7);
const files = p.files.map((file) => ({
  ...file,
  bytes: file.kind === 'pdf' ? pdfOfPages(words, file.size, file.seed) : Buffer.from(textDocument(words, file.size, file.seed, file.kind === 'markdown')),
}));
const totalBytes = files.reduce((sum, file) => sum + file.bytes.length, 0);

async function extractOnly(): Promise<object> {
  const times: Record<string, number[]> = { text: [], markdown: [], pdf: [] };
  let chunks = 0;
  const started = performance.now();
  for (const file of files) {
    const at = performance.now();
    chunks += chunkSections((await extractSections(MEDIA_TYPES[file.kind], file.bytes, Number.MAX_SAFE_INTEGER)).sections).length;
    times[file.kind]!.push(performance.now() - at);
  }
  const seconds = (performance.now() - started) / 1000;
  const all = Object.values(times).flat();
  return {
    seconds,
    chunks,
    megabytesPerSecond: totalBytes / 1e6 / seconds,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    pdfP50: percentile(times.pdf!, 50),
    textP50: percentile([...times.text!, ...times.markdown!], 50),
  };
}

async function post(file: (typeof files)[number], user: Params['users'][number]): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([file.bytes]), file.name);
  const ours = p.mode === 'ours';
  const response = await fetch(ours ? `${p.url}/api/v1/documents` : `${p.url}/documents?ownerId=${user.id}`, {
    method: 'POST',
    headers: ours ? { authorization: `Bearer ${user.token}` } : {},
    body: form,
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`upload ${file.name}: ${response.status} ${text.slice(0, 200)}`);
  return (JSON.parse(text) as { id: string }).id;
}

/** Resolves each document's promise when its status is no longer `processing`. */
function watcher(client: Client) {
  const pending = new Map<string, (status: string) => void>();
  const state = { stopped: false };
  const loop = (async () => {
    while (!state.stopped) {
      if (pending.size) {
        const { rows } = await client.query<{ id: string; status: string }>(`SELECT id, status FROM documents WHERE id = ANY($1) AND status <> 'processing'`, [[...pending.keys()]]);
        for (const row of rows) {
          pending.get(row.id)!(row.status);
          pending.delete(row.id);
        }
      }
      await new Promise((r) => setTimeout(r, WATCH_MS));
    }
  })();
  return {
    settled: (id: string) => new Promise<string>((resolve) => pending.set(id, resolve)),
    stop: async () => {
      state.stopped = true;
      await loop;
    },
  };
}

async function upload(): Promise<object> {
  const client = new Client({ connectionString: p.databaseUrl });
  await client.connect();
  const watch = watcher(client);
  const responded: number[] = [];
  const ready: number[] = [];
  const uploaded: { id: string; token: string }[] = [];
  const statuses: Record<string, number> = {};
  const settling: Promise<void>[] = [];
  const started = performance.now();
  // Each user uploads its files back to back, without waiting for the previous one to be ready.
  await Promise.all(
    p.users.map(async (user, u) => {
      for (let i = u; i < files.length; i += p.users.length) {
        const at = performance.now();
        const id = await post(files[i]!, user);
        responded.push(performance.now() - at);
        uploaded.push({ id, token: user.token });
        const settle = async () => {
          const status = p.mode === 'ours' ? await watch.settled(id) : 'ready';
          statuses[status] = (statuses[status] ?? 0) + 1;
          ready.push(performance.now() - at);
        };
        settling.push(settle());
      }
    }),
  );
  await Promise.all(settling);
  const seconds = (performance.now() - started) / 1000;
  await watch.stop();
  const { rows } = await client.query<{ chunks: string }>(`SELECT coalesce(sum(chunks), 0) AS chunks FROM documents WHERE id = ANY($1)`, [uploaded.map((u) => u.id)]);
  await client.end();
  return {
    seconds,
    files: files.length,
    megabytes: totalBytes / 1e6,
    uploadsPerSecond: files.length / seconds,
    megabytesPerSecond: totalBytes / 1e6 / seconds,
    responseP50: percentile(responded, 50),
    responseP99: percentile(responded, 99),
    readyP50: percentile(ready, 50),
    readyP99: percentile(ready, 99),
    statuses,
    apiReady: p.mode === 'ours' ? await readyThroughApi(uploaded) : uploaded.length,
    chunks: Number(rows[0]!.chunks),
  };
}

/** The API's own answer for every document, asked by its uploader: how many it reports `ready`. */
async function readyThroughApi(uploaded: { id: string; token: string }[]): Promise<number> {
  let ready = 0;
  for (const { id, token } of uploaded) {
    const response = await fetch(`${p.url}/api/v1/documents/${id}`, { headers: { authorization: `Bearer ${token}` } });
    if (response.status === 200 && ((await response.json()) as { status: string }).status === 'ready') ready++;
  }
  return ready;
}

console.log(JSON.stringify(p.mode === 'extract' ? await extractOnly() : await upload()));
process.exit(0);
