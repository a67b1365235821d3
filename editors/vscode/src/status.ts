/**
 * The server's `deepseekFim/status` notification → what the status bar item shows. Pure, so the
 * mapping is unit tested without VS Code.
 */

export type ServerState = 'ready' | 'busy' | 'error' | 'inactive' | 'disabled';
/** Client-side states: before the server has said anything, or when it could not be started. */
export type ClientState = ServerState | 'starting' | 'stopped';

export interface StatusParams {
  state: ServerState;
  message: string;
  uri: string | null;
}

export interface StatusView {
  /** Status bar text, with a codicon. */
  text: string;
  tooltip: string;
  /** Accessible label, also what the e2e test reads from the page. */
  ariaLabel: string;
  /** Theme color id for the background, or undefined for the default. */
  background?: 'statusBarItem.errorBackground' | 'statusBarItem.warningBackground';
}

const SERVER_STATES: ReadonlySet<string> = new Set(['ready', 'busy', 'error', 'inactive', 'disabled']);

const ICONS: Record<ClientState, string> = {
  ready: '$(sparkle)',
  busy: '$(loading~spin)',
  error: '$(error)',
  inactive: '$(circle-slash)',
  disabled: '$(eye-closed)',
  starting: '$(sync~spin)',
  stopped: '$(debug-disconnect)',
};

const DEFAULT_MESSAGES: Record<ClientState, string> = {
  ready: 'Ready',
  busy: 'Asking the model…',
  error: 'Error',
  inactive: 'Inactive for this file',
  disabled: 'Completions are turned off',
  starting: 'Starting the language server…',
  stopped: 'The language server is not running',
};

export const LABEL = 'DeepSeek';

/** Validates an incoming notification's params; unknown shapes give undefined (ignored). */
export function parseStatus(params: unknown): StatusParams | undefined {
  if (typeof params !== 'object' || params === null) {
    return undefined;
  }
  const p = params as Record<string, unknown>;
  if (typeof p.state !== 'string' || !SERVER_STATES.has(p.state)) {
    return undefined;
  }
  return {
    state: p.state as ServerState,
    message: typeof p.message === 'string' ? p.message : '',
    uri: typeof p.uri === 'string' ? p.uri : null,
  };
}

/** What the status bar item shows for a state and the server's message. */
export function statusView(state: ClientState, message?: string): StatusView {
  const detail = message && message.trim() ? message.trim() : DEFAULT_MESSAGES[state];
  const view: StatusView = {
    text: `${ICONS[state]} ${LABEL}`,
    tooltip: `DeepSeek FIM: ${detail}\nClick for options`,
    ariaLabel: `DeepSeek FIM ${state}: ${detail}`,
  };
  if (state === 'error' || state === 'stopped') {
    view.background = 'statusBarItem.errorBackground';
  } else if (state === 'disabled') {
    view.background = 'statusBarItem.warningBackground';
  }
  return view;
}

/**
 * Whether a status about `uri` should be shown while `activeUri` is the active editor: statuses
 * about another document (e.g. a late answer) must not overwrite the active one's.
 */
export function appliesTo(status: StatusParams, activeUri: string | undefined): boolean {
  return status.uri === null || activeUri === undefined || status.uri === activeUri;
}

/** How long after the on-ready trigger an inline request is taken to be the one it caused. */
export const SELF_TRIGGER_WINDOW_MS = 2000;

/**
 * When to ask VS Code for inline suggestions on its own. VS Code asks the inline provider only
 * after a change, so what the user typed while the server was starting shows nothing until the
 * next keystroke: the first `ready` of each server start asks once (`ready` also follows every
 * answer; those do not). The request that trigger causes reaches the provider as "invoked"
 * (that is what `editor.action.inlineSuggest.trigger` sends); the user did not ask, so it is
 * handed on as automatic, which costs one sample instead of the explicit request's alternatives.
 */
export class ReadyTrigger {
  private fired = false;
  private triggeredAt: number | undefined;

  /** A new server process: its first `ready` triggers again. */
  reset(): void {
    this.fired = false;
    this.triggeredAt = undefined;
  }

  /**
   * Whether this status should trigger inline suggestions now: the first `ready` of a server
   * start, when the active editor is one the server serves (`editorServed`).
   */
  onStatus(status: StatusParams, now: number, editorServed: boolean): boolean {
    if (this.fired || status.state !== 'ready') {
      return false;
    }
    this.fired = true;
    if (!editorServed) {
      return false;
    }
    this.triggeredAt = now;
    return true;
  }

  /**
   * Whether an invoked inline request arriving now is the one the trigger caused (true at most
   * once, within SELF_TRIGGER_WINDOW_MS of the trigger).
   */
  takeSelfTriggered(now: number): boolean {
    const at = this.triggeredAt;
    this.triggeredAt = undefined;
    return at !== undefined && now - at <= SELF_TRIGGER_WINDOW_MS;
  }
}

/** URI schemes the language client serves (its document selector); others are not triggered. */
export const SERVED_SCHEMES: readonly string[] = ['file', 'untitled'];
