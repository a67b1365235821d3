-- One front for both renderers, so keys and commands do not care which one runs.
-- Native mode (Neovim 0.12): vim.lsp.inline_completion shows the automatic suggestion, and
-- the extmark renderer in "overlay" mode shows the alternatives asked for with next/prev
-- (Neovim itself only ever sends automatic requests, which carry one suggestion).
-- Fallback mode: the extmark renderer does everything.

local state = require('deepseek_fim.state')

local api = vim.api

local M = {}

local function native()
  return require('deepseek_fim.native')
end

local function ghost()
  return require('deepseek_fim.ghost')
end

---@return boolean
local function is_native()
  return state.renderer == 'native'
end

---@param bufnr integer
function M.attach(bufnr)
  if is_native() then
    native().attach(bufnr)
    ghost().attach(bufnr, true)
  else
    ghost().attach(bufnr, false)
  end
end

--- Detach whatever renderer is attached (both, to be safe when the renderer changed).
---@param bufnr integer
function M.detach(bufnr)
  if native().available() then
    native().detach(bufnr)
  end
  ghost().detach(bufnr)
end

---@param bufnr integer
---@return boolean
function M.visible(bufnr)
  if ghost().visible(bufnr) then
    return true
  end
  return is_native() and native().visible(bufnr)
end

--- For expr mappings: accept and return the keys to feed ('' or a <Cmd>), or nil when
--- nothing is shown. The extmark renderer edits from a <Cmd> (outside the expr textlock).
---@param kind 'all'|'line'|'word'
---@return string|nil
function M.accept_expr(kind)
  local bufnr = api.nvim_get_current_buf()
  if ghost().visible(bufnr) then
    return ("<Cmd>lua require('deepseek_fim.ghost').accept('%s')<CR>"):format(kind)
  end
  if is_native() and native().visible(bufnr) and native().accept(kind) then
    return "<Cmd>lua require('deepseek_fim.native').settle()<CR>"
  end
  return nil
end

--- Accept outside an expr mapping (from a <Cmd> or function mapping).
---@param kind 'all'|'line'|'word'
---@return boolean
function M.accept(kind)
  local bufnr = api.nvim_get_current_buf()
  if ghost().visible(bufnr) then
    return ghost().accept(kind)
  end
  if is_native() and native().visible(bufnr) and native().accept(kind) then
    native().settle()
    return true
  end
  return false
end

---@return boolean
function M.dismiss()
  local bufnr = api.nvim_get_current_buf()
  local done = ghost().dismiss()
  if is_native() and native().visible(bufnr) then
    done = native().dismiss() or done
  end
  return done
end

---@param count integer
---@return boolean
function M.select(count)
  local bufnr = api.nvim_get_current_buf()
  if is_native() and not ghost().visible(bufnr) then
    if native().visible(bufnr) then
      -- Neovim drops the shown item on the next tick, cancelling every pending inline
      -- completion request of the buffer: send ours after that.
      native().dismiss()
      vim.schedule(function()
        ghost().select(count, true)
      end)
      return true
    end
    return ghost().select(count, false)
  end
  return ghost().select(count, false)
end

return M
