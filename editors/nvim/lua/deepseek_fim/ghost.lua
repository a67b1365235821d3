-- Fallback renderer (Neovim 0.10/0.11, or `fallback = true`): requests
-- `textDocument/inlineCompletion` itself and draws the suggestion with extmarks.
-- Debounced per buffer; a new request cancels the one in flight; typing what the suggestion
-- says keeps it (type-through), anything else clears it.

local state = require('deepseek_fim.state')
local util = require('deepseek_fim.util')

local api = vim.api
local uv = vim.uv or vim.loop

local M = {}

M.namespace = api.nvim_create_namespace('deepseek_fim.ghost')

local METHOD = 'textDocument/inlineCompletion'
local AUTOMATIC, INVOKED = 2, 1

---@class deepseek_fim.GhostItem
---@field text string text to insert at the cursor
---@field replace integer bytes after the cursor the item replaces
---@field command table|nil
---@field client_id integer
---@field accepted boolean its command already ran

---@class deepseek_fim.Shown
---@field row integer 0-based
---@field col integer byte column where the ghost text starts (the cursor)
---@field prefix string line text before `col`, to detect edits
---@field item deepseek_fim.GhostItem

---@class deepseek_fim.GhostBuf
---@field timer uv.uv_timer_t|nil
---@field inflight {client: vim.lsp.Client, id: integer}|nil
---@field items deepseek_fim.GhostItem[]
---@field index integer
---@field shown deepseek_fim.Shown|nil
---@field augroup integer
---@field overlay boolean only shows alternatives over the native renderer

---@type table<integer, deepseek_fim.GhostBuf>
local bufs = {}

--- Suggestions are wanted in this buffer right now. Insert mode is checked only when a
--- request is sent: during InsertEnter the mode is not "i" yet.
---@param bufnr integer
---@param need_insert? boolean
---@return boolean
local function active(bufnr, need_insert)
  return state.enabled
    and bufs[bufnr] ~= nil
    and api.nvim_get_current_buf() == bufnr
    and (not need_insert or api.nvim_get_mode().mode:sub(1, 1) == 'i')
end

---@param st deepseek_fim.GhostBuf
local function cancel(st)
  if st.timer then
    st.timer:stop()
  end
  local inflight = st.inflight
  st.inflight = nil
  if inflight and not util.is_stopped(inflight.client) then
    pcall(util.cancel_request, inflight.client, inflight.id)
  end
end

---@param bufnr integer
---@param st deepseek_fim.GhostBuf
---@param hint string|nil
local function render(bufnr, st, hint)
  api.nvim_buf_clear_namespace(bufnr, M.namespace, 0, -1)
  local shown = st.shown
  if not shown then
    return
  end
  local tab = string.rep(' ', vim.bo[bufnr].tabstop)
  local line = api.nvim_buf_get_lines(bufnr, shown.row, shown.row + 1, false)[1] or ''
  local text = shown.item.text
  local replaced = line:sub(shown.col + 1, shown.col + shown.item.replace)
  if replaced ~= '' and not text:find('\n', 1, true) and text:sub(-#replaced) == replaced then
    -- The item rewrites what follows the cursor (say a closing bracket) and ends with the
    -- same text: draw only the new part, the existing text completes the picture.
    text = text:sub(1, #text - #replaced)
  end
  local chunks = {}
  for line_text in vim.gsplit(text, '\n', { plain = true }) do
    table.insert(chunks, { { (line_text:gsub('\t', tab)), 'DeepseekFimSuggestion' } })
  end
  if hint then
    table.insert(chunks[#chunks], { hint, 'DeepseekFimSuggestionHint' })
  end
  local first = table.remove(chunks, 1)
  api.nvim_buf_set_extmark(bufnr, M.namespace, shown.row, math.min(shown.col, #line), {
    virt_text = first,
    virt_text_pos = 'inline',
    virt_lines = #chunks > 0 and chunks or nil,
    hl_mode = 'combine',
    priority = 200,
  })
end

--- Forget the suggestion (and its alternatives) and erase it.
---@param bufnr integer
function M.clear(bufnr)
  local st = bufs[bufnr]
  if not st then
    return
  end
  st.shown = nil
  st.items = {}
  st.index = 1
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, M.namespace, 0, -1)
  end
end

---@param bufnr integer
---@param st deepseek_fim.GhostBuf
---@param hint string|nil
local function show(bufnr, st, hint)
  local item = st.items[st.index]
  if not item then
    M.clear(bufnr)
    return
  end
  local cursor = api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  st.shown = { row = row, col = col, prefix = line:sub(1, col), item = item }
  render(bufnr, st, hint)
end

--- Convert the LSP items of a response to ghost items anchored at the cursor.
---@param bufnr integer
---@param client vim.lsp.Client
---@param result table
---@return deepseek_fim.GhostItem[]
local function convert(bufnr, client, result)
  local cursor = api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local out = {}
  local raw = result.items or result
  if type(raw) ~= 'table' then
    return out
  end
  for _, it in ipairs(raw) do
    local text = it.insertText
    if type(text) == 'table' then
      text = text.value
    end
    if type(text) == 'string' and text ~= '' then
      local range = nil
      if type(it.range) == 'table' then
        local s, e = it.range.start, it.range['end']
        local sline = api.nvim_buf_get_lines(bufnr, s.line, s.line + 1, false)[1] or ''
        local eline = api.nvim_buf_get_lines(bufnr, e.line, e.line + 1, false)[1] or ''
        range = {
          srow = s.line,
          scol = util.byte_col(sline, s.character, client.offset_encoding),
          erow = e.line,
          ecol = util.byte_col(eline, e.character, client.offset_encoding),
        }
      end
      local norm = util.normalize(bufnr, row, col, text, range)
      if norm and norm.text ~= '' then
        table.insert(out, {
          text = norm.text,
          replace = norm.end_col - col,
          command = it.command,
          client_id = client.id,
          accepted = false,
        })
      end
    end
  end
  return out
end

--- Send one inline completion request for the cursor position.
---@param bufnr integer
---@param kind integer triggerKind
---@param select_offset integer|nil after the answer, show item 1 + offset
local function request(bufnr, kind, select_offset)
  local st = bufs[bufnr]
  if not st or not active(bufnr, true) then
    return
  end
  local client = require('deepseek_fim.client').get(bufnr)
  if not client then
    return
  end
  cancel(st)
  local params = util.position_params(client)
  params.context = { triggerKind = kind }
  local tick = api.nvim_buf_get_changedtick(bufnr)
  local cursor = api.nvim_win_get_cursor(0)
  local id
  local ok, req_id = util.request(client, METHOD, params, function(err, result)
    if st.inflight and st.inflight.id == id then
      st.inflight = nil
    end
    if err or type(result) ~= 'table' or bufs[bufnr] ~= st or not active(bufnr, true) then
      return
    end
    local now = api.nvim_win_get_cursor(0)
    if
      api.nvim_buf_get_changedtick(bufnr) ~= tick
      or now[1] ~= cursor[1]
      or now[2] ~= cursor[2]
    then
      return -- stale: the text or cursor moved on, a newer request is on its way
    end
    st.items = convert(bufnr, client, result)
    local n = #st.items
    if n == 0 then
      M.clear(bufnr)
      return
    end
    st.index = ((select_offset or 0) % n) + 1
    show(bufnr, st, n > 1 and select_offset and ('  (%d/%d)'):format(st.index, n) or nil)
  end, bufnr)
  if ok and req_id then
    id = req_id
    st.inflight = { client = client, id = req_id }
  end
end

---@param bufnr integer
---@param st deepseek_fim.GhostBuf
local function schedule(bufnr, st)
  cancel(st)
  if not st.timer then
    st.timer = uv.new_timer()
  end
  st.timer:start(
    state.options.debounce_ms,
    0,
    vim.schedule_wrap(function()
      request(bufnr, AUTOMATIC)
    end)
  )
end

--- Keep the suggestion when the user typed exactly its beginning; true when still valid.
---@param bufnr integer
---@param st deepseek_fim.GhostBuf
---@return boolean
local function type_through(bufnr, st)
  local shown = st.shown
  if not shown then
    return false
  end
  local cursor = api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  if row ~= shown.row or col < shown.col then
    return false
  end
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  if line:sub(1, shown.col) ~= shown.prefix then
    return false
  end
  local typed = line:sub(shown.col + 1, col)
  if typed == '' then
    return true
  end
  local item = shown.item
  if #typed >= #item.text or item.text:sub(1, #typed) ~= typed then
    return false
  end
  item.text = item.text:sub(#typed + 1)
  st.items = { item }
  st.index = 1
  shown.col = col
  shown.prefix = line:sub(1, col)
  render(bufnr, st, nil)
  return true
end

---@param bufnr integer
local function on_change(bufnr)
  local st = bufs[bufnr]
  if not st or not active(bufnr) then
    return
  end
  if st.overlay then
    -- Alternatives shown over the native renderer last until the next edit or move;
    -- then Neovim's own inline completion takes over again.
    if st.shown and not M.visible(bufnr) then
      cancel(st)
      M.clear(bufnr)
    end
    return
  end
  if st.shown then
    if type_through(bufnr, st) then
      return
    end
    M.clear(bufnr)
  end
  schedule(bufnr, st)
end

--- Start drawing suggestions in `bufnr`. With `overlay`, the buffer is driven by the native
--- renderer and this one only shows the alternatives asked for with next/previous.
---@param bufnr integer
---@param overlay? boolean
function M.attach(bufnr, overlay)
  if bufs[bufnr] then
    return
  end
  local group = api.nvim_create_augroup('deepseek_fim.ghost.' .. bufnr, { clear = true })
  ---@type deepseek_fim.GhostBuf
  local st = { items = {}, index = 1, augroup = group, overlay = overlay == true }
  bufs[bufnr] = st
  api.nvim_create_autocmd({ 'InsertEnter', 'CursorMovedI', 'TextChangedI', 'TextChangedP' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      on_change(bufnr)
    end,
  })
  api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      cancel(st)
      M.clear(bufnr)
    end,
  })
  api.nvim_create_autocmd({ 'BufUnload', 'BufWipeout' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.detach(bufnr)
    end,
  })
end

---@param bufnr integer
function M.detach(bufnr)
  local st = bufs[bufnr]
  if not st then
    return
  end
  cancel(st)
  M.clear(bufnr)
  if st.timer then
    st.timer:close()
    st.timer = nil
  end
  pcall(api.nvim_del_augroup_by_id, st.augroup)
  bufs[bufnr] = nil
end

--- Stop everything in every buffer (toggle off).
function M.stop_all()
  for bufnr, st in pairs(bufs) do
    cancel(st)
    M.clear(bufnr)
  end
end

---@param bufnr integer
---@return boolean
function M.visible(bufnr)
  local st = bufs[bufnr]
  if not st or not st.shown then
    return false
  end
  local cursor = api.nvim_win_get_cursor(0)
  return cursor[1] - 1 == st.shown.row and cursor[2] == st.shown.col
end

--- Accept all, one line or one word of the suggestion. Edits the buffer: call it outside
--- textlock (from a <Cmd> mapping), after `visible()` said yes.
---@param kind 'all'|'line'|'word'
---@return boolean
function M.accept(kind)
  local bufnr = api.nvim_get_current_buf()
  local st = bufs[bufnr]
  if not st or not M.visible(bufnr) then
    return false
  end
  local shown = assert(st.shown)
  local item = shown.item
  local piece = kind == 'all' and item.text or util.piece(item.text, kind)
  local row, col = shown.row, shown.col
  cancel(st)
  if piece == item.text then
    local lines = vim.split(item.text, '\n', { plain = true })
    M.clear(bufnr)
    api.nvim_buf_set_text(bufnr, row, col, row, col + item.replace, lines)
    api.nvim_win_set_cursor(0, { row + #lines, (#lines == 1 and col or 0) + #lines[#lines] })
  else
    util.insert_at_cursor(bufnr, piece)
    item.text = item.text:sub(#piece + 1)
    st.items = { item }
    st.index = 1
    show(bufnr, st, nil)
  end
  if item.command and not item.accepted then
    item.accepted = true
    local client = vim.lsp.get_client_by_id(item.client_id)
    if client then
      util.exec_cmd(client, item.command, bufnr)
    end
  end
  return true
end

---@return boolean
function M.dismiss()
  local bufnr = api.nvim_get_current_buf()
  local st = bufs[bufnr]
  if not st then
    return false
  end
  local had = st.shown ~= nil
  cancel(st)
  M.clear(bufnr)
  return had
end

--- Cycle through the alternatives; with one or none, ask the server for more (invoked).
--- `showing_one`: a suggestion is on screen (maybe drawn by the native renderer), so the
--- answer is shown from the next/previous alternative rather than the first.
---@param count integer
---@param showing_one? boolean
---@return boolean
function M.select(count, showing_one)
  local bufnr = api.nvim_get_current_buf()
  local st = bufs[bufnr]
  if not st or not active(bufnr, true) then
    return false
  end
  local n = M.visible(bufnr) and #st.items or 0
  if n > 1 then
    st.index = ((st.index - 1 + count) % n) + 1
    show(bufnr, st, ('  (%d/%d)'):format(st.index, n))
    return true
  end
  request(bufnr, INVOKED, (n == 1 or showing_one) and count or 0)
  return true
end

--- Buffers the renderer is attached to (for tests and :checkhealth).
---@return integer[]
function M.buffers()
  return vim.tbl_keys(bufs)
end

return M
