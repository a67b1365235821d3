-- deepseek-fim for Neovim: AI ghost-text completion from the deepseek-fim-lsp server.
--
--   require('deepseek_fim').setup()            -- defaults: see lua/deepseek_fim/config.lua
--   require('deepseek_fim').statusline()       -- "DeepSeek: ready"

local config = require('deepseek_fim.config')
local state = require('deepseek_fim.state')
local util = require('deepseek_fim.util')

local api = vim.api

local M = {}

local GROUP = 'deepseek_fim'

local function render()
  return require('deepseek_fim.render')
end

--- Start rendering suggestions in a buffer our client just attached to.
---@param bufnr integer
local function on_attach(bufnr)
  if not require('deepseek_fim.client').wants(bufnr) then
    return
  end
  if state.enabled then
    render().attach(bufnr)
  end
end

local function set_highlights()
  local hint = vim.fn.hlexists('ComplHint') == 1 and 'ComplHint' or 'Comment'
  api.nvim_set_hl(0, 'DeepseekFimSuggestion', { link = hint, default = true })
  api.nvim_set_hl(0, 'DeepseekFimSuggestionHint', { link = 'Comment', default = true })
end

--- Configure and start. Safe to call again (options are replaced, not merged).
---@param opts? table see docs/editors.md / config.lua
function M.setup(opts)
  local options, problems = config.merge(opts)
  for _, problem in ipairs(problems) do
    util.notify(problem, vim.log.levels.WARN)
  end
  -- Keep config.options and state.options the same table for every module.
  for k in pairs(config.options) do
    config.options[k] = nil
  end
  for k, v in pairs(options) do
    config.options[k] = v
  end
  state.options = config.options

  local native = require('deepseek_fim.native')
  local previous_renderer = state.configured and state.renderer or nil
  state.renderer = (not options.fallback and native.available()) and 'native' or 'fallback'
  if previous_renderer then
    -- setup() again: start clean, buffers are re-attached below with the new options.
    for _, client in ipairs(vim.lsp.get_clients({ name = 'deepseek_fim' })) do
      for _, b in ipairs(vim.lsp.get_buffers_by_client_id(client.id)) do
        render().detach(b)
      end
    end
  end
  state.enabled = not (type(options.settings) == 'table' and options.settings.enabled == false)
  state.configured = true
  if previous_renderer then
    require('deepseek_fim.client').push_settings()
  end

  set_highlights()
  require('deepseek_fim.commands').create()
  require('deepseek_fim.keymaps').setup()

  local group = api.nvim_create_augroup(GROUP, { clear = true })
  local client = require('deepseek_fim.client')
  api.nvim_create_autocmd({ 'FileType', 'BufEnter' }, {
    group = group,
    callback = function(ev)
      local attached = client.get(ev.buf)
      if attached and not client.wants(ev.buf) then
        -- The filetype changed to one the user excluded.
        render().detach(ev.buf)
        vim.lsp.buf_detach_client(ev.buf, attached.id)
        return
      end
      client.attach(ev.buf)
    end,
  })
  api.nvim_create_autocmd('LspAttach', {
    group = group,
    callback = function(ev)
      local c = vim.lsp.get_client_by_id(ev.data.client_id)
      if c and c.name == client.name then
        on_attach(ev.buf)
      end
    end,
  })
  api.nvim_create_autocmd('LspDetach', {
    group = group,
    callback = function(ev)
      local c = vim.lsp.get_client_by_id(ev.data.client_id)
      if c and c.name == client.name then
        render().detach(ev.buf)
      end
    end,
  })
  api.nvim_create_autocmd('ColorScheme', { group = group, callback = set_highlights })

  -- Buffers opened before setup() (lazy loading) get attached now.
  for _, b in ipairs(api.nvim_list_bufs()) do
    if api.nvim_buf_is_loaded(b) then
      local attached = client.get(b)
      if attached then
        on_attach(b)
      else
        client.attach(b)
      end
    end
  end
end

--- Turn suggestions on or off, in this Neovim and in the server (`deepseekFim.setEnabled`).
---@param enabled? boolean nil toggles
function M.toggle(enabled)
  if enabled == nil then
    enabled = not state.enabled
  end
  state.enabled = enabled
  local client_mod = require('deepseek_fim.client')
  local client = client_mod.get()
  local r = render()
  if client then
    for _, b in ipairs(vim.lsp.get_buffers_by_client_id(client.id)) do
      if enabled then
        if client_mod.wants(b) then
          r.attach(b)
        end
      else
        r.detach(b)
      end
    end
  end
  client_mod.set_server_enabled(enabled)
  pcall(api.nvim_exec_autocmds, 'User', { pattern = 'DeepseekFimStatus', modeline = false })
  pcall(vim.cmd, 'redrawstatus')
  return enabled
end

--- Short status for a statusline, e.g. "DeepSeek: ready". Empty before setup().
---@return string
function M.statusline()
  if not state.configured then
    return ''
  end
  if state.server_missing then
    return 'DeepSeek: not installed'
  end
  if not state.enabled then
    return 'DeepSeek: off'
  end
  if not require('deepseek_fim.client').get() then
    if state.status.state == 'error' then
      return 'DeepSeek: error'
    end
    return 'DeepSeek: idle'
  end
  return 'DeepSeek: ' .. state.status.state
end

--- The last `deepseekFim/status` notification ({state, message, uri}).
---@return deepseek_fim.Status
function M.status()
  return vim.deepcopy(state.status)
end

--- Whether a suggestion is shown in the current buffer.
---@return boolean
function M.is_visible()
  return render().visible(api.nvim_get_current_buf())
end

--- Accept the shown suggestion, for your own mappings (a function or <Cmd> mapping, not an
--- expr one). Returns false when nothing was shown.
---@param kind? 'all'|'line'|'word'
---@return boolean
function M.accept(kind)
  return render().accept(kind or 'all')
end

--- Hide the shown suggestion.
---@return boolean
function M.dismiss()
  return render().dismiss()
end

--- Show the next (count > 0) or previous suggestion.
---@param count integer
---@return boolean
function M.select(count)
  return render().select(count)
end

--- Send new server settings (section `deepseekFim`) to the running server.
---@param settings table
function M.update_settings(settings)
  require('deepseek_fim.client').update_settings(settings)
end

return M
