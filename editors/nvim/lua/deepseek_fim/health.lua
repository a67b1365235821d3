-- :checkhealth deepseek_fim

local state = require('deepseek_fim.state')

local M = {}

local health = vim.health

function M.check()
  health.start('deepseek-fim: setup')
  local v = vim.version()
  local version = ('%d.%d.%d'):format(v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.10') == 0 then
    health.error('Neovim ' .. version .. ' is too old; 0.10 or newer is needed')
  else
    health.ok('Neovim ' .. version)
  end
  if not state.configured then
    health.warn('setup() has not been called', { 'Add require("deepseek_fim").setup() to your config' })
    return
  end
  local native = require('deepseek_fim.native')
  if state.renderer == 'native' then
    health.ok('renderer: native (vim.lsp.inline_completion)')
  elseif state.options.fallback then
    health.ok('renderer: fallback (forced by the `fallback` option)')
  else
    health.ok('renderer: fallback (extmarks; vim.lsp.inline_completion needs Neovim 0.12)')
  end
  if not native.available() and state.renderer == 'native' then
    health.error('native renderer selected but vim.lsp.inline_completion is missing')
  end
  health.info('suggestions: ' .. (state.enabled and 'on' or 'off (:DeepseekFim toggle)'))

  health.start('deepseek-fim: server')
  local cmd = state.options.cmd
  local exe = cmd[1]
  if vim.fn.executable(exe) == 1 then
    health.ok(('server binary `%s` found: %s'):format(exe, vim.fn.exepath(exe)))
  else
    health.error(('server binary `%s` not found or not executable'):format(exe), {
      'pipx install /path/to/deepseek-fim-lsp   (or `pip install .` in the repository)',
      'or set the `cmd` option to the full path of deepseek-fim-lsp',
    })
  end

  local settings = state.options.settings or {}
  local key_in_settings = type(settings.apiKey) == 'string' and settings.apiKey ~= ''
  local env_key = vim.env.DEEPSEEK_API_KEY
  if key_in_settings then
    health.ok('API key: set (in settings.apiKey)')
  elseif env_key and env_key ~= '' then
    health.ok('API key: set (environment variable DEEPSEEK_API_KEY)')
  else
    health.error('API key: not set', {
      'export DEEPSEEK_API_KEY=... before starting Neovim',
      'or pass settings = { apiKey = ... } to setup()',
    })
  end

  local client = require('deepseek_fim.client').get()
  if not client and state.server_missing then
    health.info('server not running (its command was not found)')
    return
  end
  if not client then
    local why = state.last_exit and ('; the last one ' .. state.last_exit) or ''
    health.warn('server not running' .. why, {
      'It starts when you open a file in a normal buffer',
      'See :LspLog for its output',
    })
    return
  end
  local bufs = vim.lsp.get_buffers_by_client_id(client.id)
  health.ok(('server running (client id %d), attached to %d buffer(s)'):format(client.id, #bufs))
  local s = state.status
  local detail = (s.message ~= '' and s.message ~= s.state) and (' — ' .. s.message) or ''
  local status = ('status: %s%s'):format(s.state, detail)
  if s.state == 'error' then
    health.warn(status)
  else
    health.info(status)
  end
  local caps = client.server_capabilities or {}
  if caps.inlineCompletionProvider then
    health.ok('server offers inline completion')
  else
    health.error('server does not advertise inlineCompletionProvider')
  end

  local stats, err = require('deepseek_fim.client').stats_sync(3000)
  if not stats then
    health.warn('no answer to deepseekFim/stats: ' .. tostring(err))
    return
  end
  local model = tostring(stats.model or '?')
  if stats.modelAvailable == true then
    health.ok(('model `%s` reachable'):format(model))
  elseif stats.modelAvailable == false then
    health.error(('model `%s` is not offered by the API'):format(model), {
      'Set deepseekFim.model to an id the API offers (:DeepseekFim stats shows them)',
    })
  else
    -- DeepSeek answers ids it no longer lists: an unlisted model is not an error.
    health.info(('model `%s`: %s'):format(model, require('deepseek_fim.commands').unconfirmed))
  end
  if stats.enabled == false then
    health.warn('the server is disabled (:DeepseekFim enable)')
  end
  if type(stats.lastError) == 'string' and stats.lastError ~= '' then
    health.warn('last server error: ' .. stats.lastError)
  else
    health.ok('no server errors')
  end
end

return M
