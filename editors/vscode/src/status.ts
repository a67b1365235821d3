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
