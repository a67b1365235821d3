-- Starting the language server, attaching it to buffers, and the custom protocol
-- (`deepseekFim/status`, `deepseekFim/stats`, `deepseekFim.setEnabled`).

local state = require('deepseek_fim.state')
local util = require('deepseek_fim.util')

local api = vim.api

local M = {}

M.name = 'deepseek_fim'

--- Abnormal exits after which the plugin stops restarting the server on its own.
local MAX_EXITS = 3

local INSTALL_HINT = 'install the server (`pipx install /path/to/deepseek-fim-lsp`, or '
  .. '`pip install .` in its repository) or set the `cmd` option to its full path'

--- The running client, if any (one client serves every buffer).
---@param bufnr? integer only a client attached to this buffer
---@return vim.lsp.Client|nil
function M.get(bufnr)
  local clients = vim.lsp.get_clients({ name = M.name, bufnr = bufnr })
  for _, client in ipairs(clients) do
    if not util.is_stopped(client) then
      return client
    end
  end
  return nil
end

--- Clients we stopped on purpose: their exit is no news.
---@type table<integer, boolean>
local stopped_by_us = {}

--- JSON-friendly copy of the user's server settings ({} must stay an object, not an array).
---@return table
local function server_settings()
  local settings = vim.deepcopy(state.options.settings or {})
  if not state.enabled then
    -- Toggled off before this server started: keep it off there too.
    settings.enabled = false
  end
  if next(settings) == nil then
    return vim.empty_dict()
  end
  return settings
end

---@param bufnr integer
---@return boolean
function M.wants(bufnr)
  if not api.nvim_buf_is_valid(bufnr) or not api.nvim_buf_is_loaded(bufnr) then
    return false
  end
  if vim.bo[bufnr].buftype ~= '' then
    return false
  end
  -- Unnamed buffers have no URI the server could key documents by.
  if api.nvim_buf_get_name(bufnr) == '' then
    return false
  end
  local ft = vim.bo[bufnr].filetype
  local opts = state.options
  if vim.tbl_contains(opts.disabled_filetypes, ft) then
    return false
  end
  if opts.filetypes and not vim.tbl_contains(opts.filetypes, ft) then
    return false
  end
  return true
end

---@param result deepseek_fim.Status|nil
local function on_status(_, result)
  if type(result) ~= 'table' then
    return vim.NIL
  end
  state.status = {
    state = type(result.state) == 'string' and result.state or 'inactive',
    message = type(result.message) == 'string' and result.message or '',
    uri = type(result.uri) == 'string' and result.uri or nil,
  }
  vim.schedule(function()
    pcall(api.nvim_exec_autocmds, 'User', { pattern = 'DeepseekFimStatus', modeline = false })
    pcall(vim.cmd, 'redrawstatus')
  end)
  return vim.NIL
end

---@param code integer
---@param signal integer
---@param client_id integer
local function on_exit(code, signal, client_id)
  vim.schedule(function()
    if stopped_by_us[client_id] then
      stopped_by_us[client_id] = nil
      state.status = { state = 'inactive', message = 'Server stopped', uri = nil }
      return
    end
    if code == 0 and signal == 0 then
      state.status = { state = 'inactive', message = 'Server stopped', uri = nil }
      return
    end
    state.exits = state.exits + 1
    state.last_exit = ('exited with code %d (signal %d)'):format(code, signal)
    state.status = { state = 'error', message = 'Server ' .. state.last_exit, uri = nil }
    local msg = ('the server %s. See :checkhealth deepseek_fim and :LspLog.'):format(
      state.last_exit
    )
    if state.exits >= MAX_EXITS then
      msg = msg .. ' Not restarting it again this session (:DeepseekFim restart to retry).'
    end
    util.notify_once('exit' .. state.exits, msg, vim.log.levels.WARN)
  end)
end

--- Start the server if needed and attach it to `bufnr` when the buffer qualifies.
---@param bufnr integer
function M.attach(bufnr)
  if not state.configured or not M.wants(bufnr) then
    return
  end
  if M.get(bufnr) then
    return
  end
  local cmd = state.options.cmd
  if vim.fn.executable(cmd[1]) ~= 1 then
    state.server_missing = true
    state.status = { state = 'error', message = '`' .. cmd[1] .. '` not found', uri = nil }
    util.notify_once(
      'missing',
      ('`%s` was not found on PATH; %s. Completion is off until then.'):format(cmd[1], INSTALL_HINT),
      vim.log.levels.WARN
    )
    return
  end
  state.server_missing = false
  if state.exits >= MAX_EXITS then
    return
  end
  local root = vim.fs.root(bufnr, state.options.root_markers) or vim.fn.getcwd()
  local settings = server_settings()
  vim.lsp.start({
    name = M.name,
    cmd = cmd,
    root_dir = root,
    init_options = { deepseekFim = settings },
    settings = { deepseekFim = settings },
    handlers = { ['deepseekFim/status'] = on_status },
    on_exit = on_exit,
  }, {
    bufnr = bufnr,
    -- One server for every buffer and project: stats and budgets are per user, not per root.
    reuse_client = function(client, config)
      return client.name == config.name and not util.is_stopped(client)
    end,
  })
end

--- Forward new settings to the running server (didChangeConfiguration).
---@param settings table
function M.update_settings(settings)
  state.options.settings = vim.tbl_deep_extend('force', state.options.settings or {}, settings)
  M.push_settings()
end

--- Send the current settings to the running server, if any.
function M.push_settings()
  local client = M.get()
  if not client then
    return
  end
  local section = server_settings()
  client.settings = { deepseekFim = section }
  util.client_notify(client, 'workspace/didChangeConfiguration', {
    settings = { deepseekFim = section },
  })
end

--- Tell the server to enable/disable itself (`deepseekFim.setEnabled`).
---@param enabled boolean
---@param callback? fun(err: any, result: any)
function M.set_server_enabled(enabled, callback)
  local client = M.get()
  if not client then
    if callback then
      callback('not running', nil)
    end
    return
  end
  util.request(client, 'workspace/executeCommand', {
    command = 'deepseekFim.setEnabled',
    arguments = { enabled },
  }, function(err, result)
    if callback then
      callback(err, result)
    end
  end, api.nvim_get_current_buf())
end

--- Ask the server for `deepseekFim/stats`.
---@param callback fun(err: any, result: table|nil)
function M.stats(callback)
  local client = M.get()
  if not client then
    callback('the server is not running', nil)
    return
  end
  local ok = util.request(client, 'deepseekFim/stats', vim.empty_dict(), function(err, result)
    callback(err, result)
  end, api.nvim_get_current_buf())
  if not ok then
    callback('the request could not be sent', nil)
  end
end

--- Synchronous stats, for :checkhealth.
---@param timeout_ms integer
---@return table|nil, string|nil
function M.stats_sync(timeout_ms)
  local client = M.get()
  if not client then
    return nil, 'the server is not running'
  end
  local response, err = util.request_sync(client, 'deepseekFim/stats', vim.empty_dict(), timeout_ms, 0)
  if not response then
    return nil, err or 'no response'
  end
  if response.err then
    return nil, response.err.message or vim.inspect(response.err)
  end
  return response.result, nil
end

--- Stop the server; the next buffer event starts it again.
function M.restart()
  state.exits = 0
  local client = M.get()
  local bufs = {}
  if client then
    bufs = vim.lsp.get_buffers_by_client_id(client.id)
    stopped_by_us[client.id] = true
    if util.has_011 then
      client:stop(true)
    else
      ---@diagnostic disable-next-line: missing-parameter
      client.stop(true)
    end
  end
  vim.defer_fn(function()
    if #bufs == 0 then
      bufs = { api.nvim_get_current_buf() }
    end
    for _, b in ipairs(bufs) do
      M.attach(b)
    end
  end, 500)
end

return M
