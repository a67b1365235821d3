-- Insert-mode keys. Every key is an expr mapping that does its job only when a suggestion is
-- shown and otherwise behaves as before: the mapping that existed when setup() ran (for
-- example Neovim's default <Tab> snippet jump), or the plain key.

local state = require('deepseek_fim.state')

local api = vim.api

local M = {}

local DESC = 'deepseek-fim: '

---@type table<string, table|false>  lhs -> the global insert mapping we replaced
local previous = {}

--- A completion menu (built-in, nvim-cmp or blink.cmp) owns <Tab> while it is open.
---@return boolean
function M.menu_visible()
  if vim.fn.pumvisible() == 1 then
    return true
  end
  local cmp = package.loaded['cmp']
  if type(cmp) == 'table' and type(cmp.visible) == 'function' then
    local ok, visible = pcall(cmp.visible)
    if ok and visible then
      return true
    end
  end
  local blink = package.loaded['blink.cmp']
  if type(blink) == 'table' then
    for _, fn in ipairs({ 'is_menu_visible', 'is_visible' }) do
      if type(blink[fn]) == 'function' then
        local ok, visible = pcall(blink[fn])
        if ok and visible then
          return true
        end
      end
    end
  end
  return false
end

---@return boolean
local function snippet_active()
  return vim.snippet ~= nil
    and type(vim.snippet.active) == 'function'
    and vim.snippet.active({ direction = 1 })
end

---@param keys string
---@return string
local function termcodes(keys)
  return api.nvim_replace_termcodes(keys, true, true, true)
end

--- Keys for "behave as if we were not mapped". Returns raw key codes.
---@param lhs string
---@return string
local function fall_through(lhs)
  local prev = previous[lhs]
  if prev then
    if prev.callback then
      if prev.expr == 1 then
        local keys = prev.callback()
        if type(keys) ~= 'string' then
          return ''
        end
        return prev.replace_keycodes == 1 and termcodes(keys) or keys
      end
      -- A plain Lua mapping cannot run under the expr textlock: run it right after.
      vim.schedule(prev.callback)
      return ''
    elseif prev.rhs and prev.rhs ~= '' then
      if prev.expr == 1 then
        local ok, keys = pcall(vim.api.nvim_eval, prev.rhs)
        return ok and type(keys) == 'string' and keys or ''
      end
      return termcodes(prev.rhs)
    end
  end
  if lhs == M.accept_lhs and snippet_active() then
    return termcodes('<Cmd>lua vim.snippet.jump(1)<CR>')
  end
  return termcodes(lhs)
end

---@param kind 'all'|'line'|'word'
---@param lhs string
---@return string
local function accept_expr(kind, lhs)
  if not state.enabled or M.menu_visible() or (kind == 'all' and snippet_active()) then
    return fall_through(lhs)
  end
  local keys = require('deepseek_fim.render').accept_expr(kind)
  if keys then
    return termcodes(keys)
  end
  return fall_through(lhs)
end

---@type table<string, fun(lhs: string): string>
local actions = {
  accept = function(lhs)
    return accept_expr('all', lhs)
  end,
  accept_line = function(lhs)
    return accept_expr('line', lhs)
  end,
  accept_word = function(lhs)
    return accept_expr('word', lhs)
  end,
  next = function(lhs)
    if state.enabled and require('deepseek_fim.render').select(1) then
      return ''
    end
    return fall_through(lhs)
  end,
  prev = function(lhs)
    if state.enabled and require('deepseek_fim.render').select(-1) then
      return ''
    end
    return fall_through(lhs)
  end,
  dismiss = function(lhs)
    local render = require('deepseek_fim.render')
    if render.visible(api.nvim_get_current_buf()) and render.dismiss() then
      return ''
    end
    return fall_through(lhs)
  end,
}

---@type string[]
local installed = {}

--- (Re)install the insert-mode keys from `state.options.keymaps`.
function M.setup()
  for _, lhs in ipairs(installed) do
    pcall(vim.keymap.del, 'i', lhs)
    local prev = previous[lhs]
    if prev then
      pcall(vim.fn.mapset, 'i', false, prev)
    end
  end
  installed = {}
  previous = {}
  M.accept_lhs = nil
  local keymaps = state.options.keymaps
  if not keymaps then
    return
  end
  for name, lhs in pairs(keymaps) do
    local action = actions[name]
    if lhs and action then
      local prev = vim.fn.maparg(lhs, 'i', false, true)
      if type(prev) == 'table' and next(prev) ~= nil and prev.buffer ~= 1 then
        previous[lhs] = prev
      end
      if name == 'accept' then
        M.accept_lhs = lhs
      end
      vim.keymap.set('i', lhs, function()
        return action(lhs)
      end, {
        expr = true,
        replace_keycodes = false,
        silent = true,
        desc = DESC .. (name:gsub('_', ' ')),
      })
      table.insert(installed, lhs)
    end
  end
end

return M
