-- Small helpers that paper over API differences between Neovim 0.10, 0.11 and 0.12.

local M = {}

M.has_011 = vim.fn.has('nvim-0.11') == 1

---@type table<string, boolean>
local notified = {}

--- vim.notify, but each `key` only once per session (errors a user cannot act on twice).
---@param key string
---@param msg string
---@param level? integer
function M.notify_once(key, msg, level)
  if notified[key] then
    return
  end
  notified[key] = true
  M.notify(msg, level)
end

---@param msg string
---@param level? integer
function M.notify(msg, level)
  vim.notify('deepseek-fim: ' .. msg, level or vim.log.levels.INFO, { title = 'deepseek-fim' })
end

-- Method calls on clients changed from `client.request(...)` (0.10) to `client:request(...)`
-- (0.11+, where the dot form is deprecated). These wrappers pick the right form.

---@param client vim.lsp.Client
---@param method string
---@param params any
---@param handler fun(err: any, result: any, ctx: table)
---@param bufnr integer
---@return boolean, integer|nil
function M.request(client, method, params, handler, bufnr)
  if M.has_011 then
    return client:request(method, params, handler, bufnr)
  end
  ---@diagnostic disable-next-line: missing-parameter
  return client.request(method, params, handler, bufnr)
end

---@param client vim.lsp.Client
---@param method string
---@param params any
---@param timeout_ms integer
---@param bufnr integer
---@return table|nil, string|nil
function M.request_sync(client, method, params, timeout_ms, bufnr)
  if M.has_011 then
    return client:request_sync(method, params, timeout_ms, bufnr)
  end
  ---@diagnostic disable-next-line: missing-parameter
  return client.request_sync(method, params, timeout_ms, bufnr)
end

---@param client vim.lsp.Client
---@param method string
---@param params any
function M.client_notify(client, method, params)
  if M.has_011 then
    return client:notify(method, params)
  end
  ---@diagnostic disable-next-line: missing-parameter
  return client.notify(method, params)
end

---@param client vim.lsp.Client
---@return boolean
function M.is_stopped(client)
  if M.has_011 then
    return client:is_stopped()
  end
  ---@diagnostic disable-next-line: missing-parameter
  return client.is_stopped()
end

---@param client vim.lsp.Client
---@param id integer
function M.cancel_request(client, id)
  if M.has_011 then
    return client:cancel_request(id)
  end
  ---@diagnostic disable-next-line: missing-parameter
  return client.cancel_request(id)
end

---@param client vim.lsp.Client
---@param command table lsp.Command
---@param bufnr integer
function M.exec_cmd(client, command, bufnr)
  if client.exec_cmd then
    return client:exec_cmd(command, { bufnr = bufnr })
  end
  -- 0.10 has no exec_cmd: send workspace/executeCommand directly.
  return M.request(client, 'workspace/executeCommand', {
    command = command.command,
    arguments = command.arguments,
  }, function() end, bufnr)
end

--- Byte index of an LSP `character` (in the client's position encoding) within `line`.
---@param line string
---@param character integer
---@param encoding string
---@return integer
function M.byte_col(line, character, encoding)
  if character <= 0 then
    return 0
  end
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col
  if M.has_011 then
    ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  end
  if not ok or type(col) ~= 'number' then
    return #line
  end
  return math.min(col, #line)
end

--- Position params for the cursor of the current window, in the client's encoding.
---@param client vim.lsp.Client
---@return table
function M.position_params(client)
  return vim.lsp.util.make_position_params(0, client.offset_encoding or 'utf-16')
end

--- The first line, or the first word, of `text`, as a user would accept it piece by piece.
--- A line: text up to (not including) the next newline; when `text` starts with a newline,
--- that newline plus the following line. A word: leading whitespace plus one run of word
--- characters or one run of punctuation.
---@param text string
---@param kind 'line'|'word'
---@return string
function M.piece(text, kind)
  if kind == 'line' then
    local lead = text:match('^\n') and '\n' or ''
    local rest = text:sub(#lead + 1)
    local line = rest:match('^[^\n]*')
    return lead .. line
  end
  local word = text:match('^%s*[%w_]+') or text:match('^%s*[^%w_%s]+') or text:match('^%s+')
  return word or text
end

---@class deepseek_fim.Normalized
---@field text string what to insert at the cursor
---@field end_col integer byte column (cursor row) up to which existing text is replaced

--- Express an item as "insert `text` at the cursor, replacing up to `end_col`", which is what
--- ghost text can show and what partial accepts need. `range` is 0-based with byte columns.
--- Returns nil when the item cannot be put that way (a range on another line, or text before
--- the cursor that the item does not repeat).
---@param bufnr integer
---@param row integer 0-based cursor row
---@param col integer cursor byte column
---@param text string
---@param range {srow: integer, scol: integer, erow: integer, ecol: integer}|nil
---@return deepseek_fim.Normalized|nil
function M.normalize(bufnr, row, col, text, range)
  if not range then
    return { text = text, end_col = col }
  end
  if range.srow ~= row or range.erow ~= row or range.scol > col or range.ecol < col then
    return nil
  end
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  local typed = line:sub(range.scol + 1, col)
  if text:sub(1, #typed) ~= typed then
    return nil
  end
  return { text = text:sub(#typed + 1), end_col = range.ecol }
end

--- Insert `text` at the cursor of the current window and move the cursor after it.
---@param bufnr integer
---@param text string
function M.insert_at_cursor(bufnr, text)
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local lines = vim.split(text, '\n', { plain = true })
  vim.api.nvim_buf_set_text(bufnr, row, col, row, col, lines)
  local last = lines[#lines]
  local new_row = row + #lines - 1
  local new_col = (#lines == 1 and col or 0) + #last
  vim.api.nvim_win_set_cursor(0, { new_row + 1, new_col })
end

return M
