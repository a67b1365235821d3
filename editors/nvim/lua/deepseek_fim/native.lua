-- Renderer for Neovim >= 0.12: `vim.lsp.inline_completion` draws, requests and accepts;
-- this module only adds what it lacks (partial accept, dismiss, a visibility check).

local util = require('deepseek_fim.util')

local api = vim.api

local M = {}

M.namespace_name = 'nvim.lsp.inline_completion'

---@return boolean
function M.available()
  local ic = vim.lsp.inline_completion
  return type(ic) == 'table'
    and type(ic.enable) == 'function'
    and type(ic.get) == 'function'
    and type(ic.select) == 'function'
end

---@param bufnr integer
function M.attach(bufnr)
  vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
end

---@param bufnr integer
function M.detach(bufnr)
  if api.nvim_buf_is_valid(bufnr) then
    vim.lsp.inline_completion.enable(false, { bufnr = bufnr })
  end
end

---@param bufnr integer
---@return boolean
function M.visible(bufnr)
  local ns = api.nvim_get_namespaces()[M.namespace_name]
  if not ns or not api.nvim_buf_is_valid(bufnr) then
    return false
  end
  return #api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { limit = 1 }) > 0
end

--- Text and byte range of a native item (the range is a vim.Range with 0-based byte columns).
---@param item table vim.lsp.inline_completion.Item
---@return string, table|nil
local function item_text(item)
  local text = item.insert_text
  if type(text) == 'table' then
    text = text.value or ''
  end
  local range = nil
  if item.range then
    range = {
      srow = item.range.start.row,
      scol = item.range.start.col,
      erow = item.range.end_.row,
      ecol = item.range.end_.col,
    }
  end
  return text, range
end

--- Apply all, or the first line/word, of `item` at the cursor and run its command. After a
--- partial accept the rest comes back from the server's type-through cache on the automatic
--- request Neovim sends when the cursor moves.
---@param item table
---@param kind 'all'|'line'|'word'
local function apply(item, kind)
  local bufnr = api.nvim_get_current_buf()
  local cursor = api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local text, range = item_text(item)
  if type(item.insert_text) == 'table' and item.insert_text.kind == 'snippet' then
    if range then
      api.nvim_buf_set_text(bufnr, range.srow, range.scol, range.erow, range.ecol, { '' })
      api.nvim_win_set_cursor(0, { range.srow + 1, range.scol })
    end
    vim.snippet.expand(text)
  else
    local norm = util.normalize(bufnr, row, col, text, range)
    if not norm and range then
      -- A range we cannot split (it starts on another line): take the whole item.
      local lines = vim.split(text, '\n', { plain = true })
      api.nvim_buf_set_text(bufnr, range.srow, range.scol, range.erow, range.ecol, lines)
      api.nvim_win_set_cursor(0, {
        range.srow + #lines,
        (#lines == 1 and range.scol or 0) + #lines[#lines],
      })
    else
      norm = norm or { text = text, end_col = col }
      local piece = kind == 'all' and norm.text or util.piece(norm.text, kind)
      if piece == norm.text then
        local lines = vim.split(norm.text, '\n', { plain = true })
        api.nvim_buf_set_text(bufnr, row, col, row, norm.end_col, lines)
        api.nvim_win_set_cursor(0, {
          row + #lines,
          (#lines == 1 and col or 0) + #lines[#lines],
        })
      else
        util.insert_at_cursor(bufnr, piece)
      end
    end
  end
  if item.command then
    local client = vim.lsp.get_client_by_id(item.client_id)
    if client then
      util.exec_cmd(client, item.command, bufnr)
    end
  end
end

--- An accept handed to vim.lsp.inline_completion.get() that has not run yet.
local pending = false

--- Accept all, one line or one word of the shown suggestion. Safe inside an expr mapping:
--- Neovim applies it on the next tick; `settle()` (from a <Cmd>) makes that happen before
--- any key typed after it.
---@param kind 'all'|'line'|'word'
---@return boolean accepted something
function M.accept(kind)
  pending = true
  local ok = vim.lsp.inline_completion.get({
    on_accept = function(item)
      pending = false
      apply(item, kind)
    end,
  })
  if not ok then
    pending = false
  end
  return ok
end

--- Let a scheduled accept run now (bounded), so keys typed right after <Tab> (a mapping, a
--- macro, a fast typist's <Esc>) land after the accepted text, not before or instead of it.
function M.settle()
  if pending then
    vim.wait(200, function()
      return not pending
    end, 1)
    pending = false
  end
end

--- Hide the shown suggestion (and drop it) without inserting anything.
---@return boolean
function M.dismiss()
  return vim.lsp.inline_completion.get({ on_accept = function() end })
end

return M
