import { claudeCodeAdapter } from "./claude-code.js";
import { codexAdapter } from "./codex.js";
import { commandAdapter } from "./command.js";
import { geminiCliAdapter } from "./gemini-cli.js";
import { manualAdapter } from "./manual.js";
import type { Adapter } from "./types.js";
import { webhookAdapter } from "./webhook.js";

const adapters: Record<string, Adapter> = {
  command: commandAdapter,
  webhook: webhookAdapter,
  manual: manualAdapter,
  claude_code: claudeCodeAdapter,
  codex: codexAdapter,
  gemini_cli: geminiCliAdapter,
};

/** Unknown adapter modules are handed over like `manual` until an adapter for them exists. */
export function adapterFor(module: string): Adapter {
  return Object.prototype.hasOwnProperty.call(adapters, module) ? adapters[module]! : manualAdapter;
}
