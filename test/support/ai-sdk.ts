import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Sdk from 'ai';

/**
 * The AI SDK client the useChat tests drive: the project's own by default, or the one installed in
 * the folder AI_SDK_DIR names (test/ai-sdk-v7 holds the next major), so one test file checks the
 * endpoints against both. The types stay the project's: the parts used here are the same in both.
 */
async function load(): Promise<{ sdk: typeof Sdk; version: string }> {
  const dir = process.env.AI_SDK_DIR;
  const require = createRequire(dir ? join(resolve(dir), 'package.json') : import.meta.url);
  const { version } = JSON.parse(readFileSync(require.resolve('ai/package.json'), 'utf8')) as { version: string };
  if (!dir) return { sdk: await import('ai'), version };
  return { sdk: (await import(pathToFileURL(require.resolve('ai')).href)) as typeof Sdk, version };
}

const { sdk, version } = await load();

export const AI_SDK_VERSION = version;
export const { AbstractChat, DefaultChatTransport, lastAssistantMessageIsCompleteWithApprovalResponses, uiMessageChunkSchema } = sdk;
export type AbstractChat<M extends Sdk.UIMessage> = Sdk.AbstractChat<M>;
export type DefaultChatTransport<M extends Sdk.UIMessage> = Sdk.DefaultChatTransport<M>;
export type { ChatInit, ChatState, ChatStatus, UIMessage, UIMessageChunk } from 'ai';
