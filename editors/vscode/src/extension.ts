/**
 * VS Code glue: starts `deepseek-fim-lsp`, feeds it settings + the API key from SecretStorage,
 * shows its status, and exposes its commands. vscode-languageclient (≥ 10) registers the inline
 * completion provider itself from the server's `inlineCompletionProvider` capability.
 *
 * Logic worth testing lives in settings.ts / status.ts / stats.ts / server.ts (no `vscode` import).
 */
import * as fs from 'fs';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
  TransportKind,
} from 'vscode-languageclient/node';

import { explanationToShow, needsInstruction, SERVER_EXPLAIN, SERVER_REWRITE, withInstruction } from './commands';
import { answerConfiguration, buildServerSettings, needsRestart, SECTION, ServerSettings } from './settings';
import { resolveServer } from './server';
import { formatStats, parseStats } from './stats';
import { appliesTo, ClientState, parseStatus, ReadyTrigger, SERVED_SCHEMES, statusView } from './status';

const SECRET_KEY = 'deepseekFim.apiKey';
/**
 * `deepseekFim/stats` takes no parameters, but pygls 2.1 cannot parse a request message without a
 * `params` member, so an empty object is sent (valid JSON-RPC, ignored by the server).
 */
const STATS_PARAMS = {};

let controller: Controller | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  controller = new Controller(context);
  await controller.activate();
}

export async function deactivate(): Promise<void> {
  await controller?.stop();
  controller = undefined;
}

class Controller {
  private client: LanguageClient | undefined;
  private apiKey: string | undefined;
  private readonly output: vscode.LogOutputChannel;
  private readonly item: vscode.StatusBarItem;
  private starting: Promise<void> | undefined;
  /** Whether the current server has sent a status yet (then ours must not overwrite it). */
  private serverSpoke = false;
  /** Asks for ghost text once when the server first says it is ready (see ReadyTrigger). */
  private readonly readyTrigger = new ReadyTrigger();

  constructor(private readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('DeepSeek FIM', { log: true });
    this.item = vscode.window.createStatusBarItem('deepseekFim.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'DeepSeek FIM';
    this.item.command = 'deepseekFim.showMenu';
    context.subscriptions.push(this.output, this.item);
  }

  async activate(): Promise<void> {
    const ctx = this.context;
    const register = (id: string, fn: (...args: unknown[]) => unknown): void => {
      ctx.subscriptions.push(vscode.commands.registerCommand(id, fn));
    };
    register('deepseekFim.showMenu', () => this.showMenu());
    register('deepseekFim.setApiKey', () => this.setApiKey());
    register('deepseekFim.clearApiKey', () => this.clearApiKey());
    register('deepseekFim.toggleEnabled', () => this.toggleEnabled());
    register('deepseekFim.showStats', () => this.showStats());
    register('deepseekFim.showLogs', () => this.output.show(true));
    register('deepseekFim.restartServer', () => this.restart());
    register('deepseekFim.rewriteSelection', () => this.rewriteSelection());
    register('deepseekFim.explainSelection', () => this.explainSelection());

    ctx.subscriptions.push(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (needsRestart((key) => event.affectsConfiguration(key))) {
          void this.restart();
        }
      }),
      ctx.secrets.onDidChange(async (event) => {
        // Another window may have changed the key: follow it.
        if (event.key === SECRET_KEY) {
          const key = await ctx.secrets.get(SECRET_KEY);
          if (key !== this.apiKey) {
            this.apiKey = key;
            await (key ? this.pushSettings() : this.restart());
          }
        }
      }),
    );

    this.apiKey = await ctx.secrets.get(SECRET_KEY);
    this.setState('starting');
    this.item.show();
    // Not awaited: a slow server start must not hold up activation (commands are registered).
    void this.start();
  }

  /** The settings object the server gets, with the key from SecretStorage merged in. */
  private serverSettings(): ServerSettings {
    const config = vscode.workspace.getConfiguration(SECTION);
    return buildServerSettings((key) => config.get(key), this.apiKey);
  }

  private setState(state: ClientState, message?: string): void {
    const view = statusView(state, message);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.accessibilityInformation = { label: view.ariaLabel };
    this.item.backgroundColor = view.background ? new vscode.ThemeColor(view.background) : undefined;
  }

  private async start(): Promise<void> {
    if (this.starting) {
      return this.starting;
    }
    this.starting = this.doStart().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const config = vscode.workspace.getConfiguration(SECTION);
    const resolved = resolveServer(
      config.get<string>('serverPath'),
      config.get<unknown>('serverArgs'),
      process.env,
      isExecutable,
    );
    if (!resolved.found) {
      this.setState('stopped', resolved.message);
      this.output.error(resolved.message);
      void this.offerFix(resolved.message);
      return;
    }
    this.setState('starting');
    this.output.info(`Starting ${resolved.command} ${resolved.args.join(' ')}`.trim());

    const serverOptions: ServerOptions = {
      command: resolved.command,
      args: resolved.args,
      transport: TransportKind.stdio,
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: SERVED_SCHEMES.map((scheme) => ({ scheme })),
      outputChannel: this.output,
      initializationOptions: () => this.serverSettings(),
      synchronize: { configurationSection: SECTION },
      middleware: {
        // The request our on-ready trigger caused is not one the user asked for: automatic.
        provideInlineCompletionItems: (document, position, context, token, next) => {
          if (
            context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke &&
            this.readyTrigger.takeSelfTriggered(Date.now())
          ) {
            context = { ...context, triggerKind: vscode.InlineCompletionTriggerKind.Automatic };
          }
          return next(document, position, context, token);
        },
        // The server's "Rewrite…" code action runs deepseekFim.rewrite without an instruction:
        // ask for one (cancel = do nothing) rather than let the server use its default.
        executeCommand: async (command, args, next) => {
          if (needsInstruction(command, args)) {
            const instruction = await askInstruction();
            if (instruction === undefined) {
              return undefined;
            }
            return next(command, withInstruction(args, instruction));
          }
          return next(command, args);
        },
        workspace: {
          // The default would send the raw configuration (no key, client-only keys included):
          // send exactly what initializationOptions sends instead.
          didChangeConfiguration: async () => {
            await this.pushSettings();
          },
          configuration: async (params, token, next) => {
            const fallback = await next(params, token);
            if (!Array.isArray(fallback)) {
              return fallback;
            }
            return answerConfiguration(params.items, fallback, this.serverSettings());
          },
        },
      },
    };
    const client = new LanguageClient('deepseekFim', 'DeepSeek FIM', serverOptions, clientOptions);
    this.client = client;
    this.serverSpoke = false;
    this.readyTrigger.reset();
    client.onNotification('deepseekFim/status', (params: unknown) => {
      const status = parseStatus(params);
      if (!status) {
        return;
      }
      this.serverSpoke = true;
      const editor = vscode.window.activeTextEditor;
      if (appliesTo(status, editor?.document.uri.toString())) {
        this.setState(status.state, status.message);
      }
      const served = editor !== undefined && SERVED_SCHEMES.includes(editor.document.uri.scheme);
      if (this.readyTrigger.onStatus(status, Date.now(), served)) {
        // Text typed while the server started gets its ghost text now, not at the next key.
        void vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      }
    });
    client.onDidChangeState((event) => {
      if (event.newState === State.Running && !this.serverSpoke) {
        this.setState('ready', 'Language server running');
      } else if (event.newState === State.Stopped && this.client === client) {
        this.setState('stopped');
      }
    });
    try {
      await client.start();
    } catch (error) {
      const message = `DeepSeek FIM: the language server could not be started: ${errorText(error)}`;
      this.output.error(message);
      this.setState('stopped', message);
      void this.offerFix(message);
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) {
      try {
        await client.stop(5000);
      } catch (error) {
        this.output.warn(`Stopping the language server: ${errorText(error)}`);
      }
    }
  }

  private async restart(): Promise<void> {
    await this.starting;
    await this.stop();
    await this.start();
  }

  private async offerFix(message: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(message, 'Open Settings', 'Show Logs');
    if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'deepseekFim.serverPath');
    } else if (choice === 'Show Logs') {
      this.output.show(true);
    }
  }

  private async pushSettings(): Promise<void> {
    const client = this.client;
    if (client?.state === State.Running) {
      await client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { [SECTION]: this.serverSettings() },
      });
    }
  }

  /** The running client, or undefined after telling the user why there is none. */
  private runningClient(): LanguageClient | undefined {
    if (this.client?.state === State.Running) {
      return this.client;
    }
    void vscode.window.showWarningMessage(
      'DeepSeek FIM: the language server is not running. See "DeepSeek FIM: Show Logs".',
    );
    return undefined;
  }

  private async executeServerCommand(
    command: string,
    args: unknown[],
    token?: vscode.CancellationToken,
  ): Promise<unknown> {
    const client = this.runningClient();
    if (!client) {
      return undefined;
    }
    return client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }, token);
  }

  private async showMenu(): Promise<void> {
    type Item = vscode.QuickPickItem & { run: () => unknown };
    const items: Item[] = [
      { label: '$(eye) Toggle completions', description: 'turn ghost text on or off', run: () => this.toggleEnabled() },
      { label: '$(graph) Show usage statistics', run: () => this.showStats() },
      { label: '$(output) Open logs', run: () => this.output.show(true) },
      {
        label: '$(key) Set API key',
        description: this.apiKey ? 'a key is stored' : 'no key stored (DEEPSEEK_API_KEY is used if set)',
        run: () => this.setApiKey(),
      },
    ];
    if (this.apiKey) {
      items.push({ label: '$(trash) Clear API key', run: () => this.clearApiKey() });
    }
    items.push({ label: '$(debug-restart) Restart server', run: () => this.restart() });
    const pick = await vscode.window.showQuickPick(items, { title: 'DeepSeek FIM' });
    await pick?.run();
  }

  private async toggleEnabled(): Promise<void> {
    try {
      const result = await this.executeServerCommand('deepseekFim.setEnabled', [null]);
      if (typeof result !== 'boolean') {
        return;
      }
      this.setState(result ? 'ready' : 'disabled');
      // Keep the setting in step, or the next settings push would undo the toggle.
      const config = vscode.workspace.getConfiguration(SECTION);
      if (config.get<boolean>('enabled') !== result) {
        await config.update('enabled', result, vscode.ConfigurationTarget.Global);
      }
    } catch (error) {
      void vscode.window.showErrorMessage(`DeepSeek FIM: toggling failed: ${errorText(error)}`);
    }
  }

  private async showStats(): Promise<void> {
    const client = this.runningClient();
    if (!client) {
      return;
    }
    try {
      const text = formatStats(parseStats(await client.sendRequest('deepseekFim/stats', STATS_PARAMS)));
      this.output.info(`Usage statistics:\n${text}`);
      await vscode.window.showInformationMessage('DeepSeek FIM usage', { modal: true, detail: text });
    } catch (error) {
      void vscode.window.showErrorMessage(`DeepSeek FIM: could not get statistics: ${errorText(error)}`);
    }
  }

  private async setApiKey(): Promise<void> {
    const key = await vscode.window.showInputBox({
      title: 'DeepSeek FIM: API key',
      prompt: 'Your DeepSeek API key. It is kept in VS Code\'s secret storage, not in settings.json.',
      password: true,
      ignoreFocusOut: true,
      validateInput: (value) => (value.trim() ? undefined : 'The key must not be empty'),
    });
    if (!key?.trim()) {
      return;
    }
    this.apiKey = key.trim();
    await this.context.secrets.store(SECRET_KEY, this.apiKey);
    if (this.client?.state === State.Running) {
      await this.pushSettings();
    } else {
      await this.restart();
    }
    void vscode.window.showInformationMessage('DeepSeek FIM: API key saved.');
  }

  private async clearApiKey(): Promise<void> {
    this.apiKey = undefined;
    await this.context.secrets.delete(SECRET_KEY);
    // The server may hold the old key from initializationOptions: restart it without one.
    await this.restart();
    void vscode.window.showInformationMessage('DeepSeek FIM: API key removed.');
  }

  /** The active editor's document URI and selection as LSP values, or undefined if none. */
  private selectionArgs(): [string, unknown] | undefined {
    const editor = vscode.window.activeTextEditor;
    const client = this.runningClient();
    if (!editor || !client) {
      return undefined;
    }
    if (editor.selection.isEmpty) {
      void vscode.window.showWarningMessage('DeepSeek FIM: select some code first.');
      return undefined;
    }
    const c2p = client.code2ProtocolConverter;
    return [c2p.asUri(editor.document.uri), c2p.asRange(editor.selection)];
  }

  private async rewriteSelection(): Promise<void> {
    const args = this.selectionArgs();
    if (!args) {
      return;
    }
    const instruction = await askInstruction();
    if (instruction === undefined) {
      return;
    }
    await this.runChatCommand(SERVER_REWRITE, [...args, instruction]);
  }

  private async explainSelection(): Promise<void> {
    const args = this.selectionArgs();
    if (args) {
      await this.runChatCommand(SERVER_EXPLAIN, args);
    }
  }

  /**
   * Runs a chat command. The server reports progress itself (work-done progress, cancellable),
   * applies edits with workspace/applyEdit and opens explanations with window/showDocument; an
   * explanation that did not get shown is opened here.
   */
  private async runChatCommand(command: string, args: unknown[]): Promise<void> {
    try {
      const result = await this.executeServerCommand(command, args);
      const shown = vscode.window.visibleTextEditors.map((e) => e.document.getText());
      const text = explanationToShow(result, shown);
      if (text !== undefined) {
        const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: text });
        await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: true });
      }
    } catch (error) {
      void vscode.window.showErrorMessage(`DeepSeek FIM: ${command} failed: ${errorText(error)}`);
    }
  }
}

/** Asks how to rewrite the selection; undefined when the user cancels. */
async function askInstruction(): Promise<string | undefined> {
  const instruction = await vscode.window.showInputBox({
    title: 'DeepSeek FIM: Rewrite selection',
    prompt: 'How should the selected code be changed?',
    placeHolder: 'e.g. use a list comprehension',
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() ? undefined : 'Say what to change'),
  });
  return instruction?.trim() ? instruction.trim() : undefined;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
