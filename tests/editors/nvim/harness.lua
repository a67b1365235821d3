-- Test harness for driving real headless Neovim: a coroutine that can sleep and wait on
-- conditions (bounded), an observation table reported as one JSON line on stdout, and
-- a hard time limit. Loaded by each case script with dofile().

local H = {}

H.result = { timeouts = {}, notifications = {} }

local co = nil

-- Globals that exist before the plugin loads; the plugin must not add any.
-- Neovim 0.12-dev itself leaks a few when some runtime modules load: `_` (treesitter
-- injections), `re` and `_ENV` (vim/re.lua, loaded when an LSP client stops).
local globals_before = { _ = true, re = true, _ENV = true }
for k in pairs(_G) do
  globals_before[k] = true
end

local function report_and_quit(code)
  H.result.new_globals = {}
  for k in pairs(_G) do
    if not globals_before[k] then
      table.insert(H.result.new_globals, tostring(k))
    end
  end
  io.stdout:write('\nRESULT:' .. vim.json.encode(H.result) .. '\n')
  io.stdout:flush()
  vim.cmd(code == 0 and 'qall!' or 'cquit! ' .. code)
end

--- Load the plugin exactly as docs/editors.md tells users to.
---@param opts table
function H.setup(opts)
  vim.opt.runtimepath:append(vim.env.DSF_PLUGIN_DIR)
  require('deepseek_fim').setup(opts)
end

--- Server settings every case wants: no server-side debounce.
---@param extra? table
---@return table
function H.settings(extra)
  return vim.tbl_extend('force', { debounceMs = 0, logLevel = 'debug', multiline = 'always' }, extra or {})
end

--- Capture vim.notify so cases can look at what users would have seen.
function H.capture_notify()
  vim.notify = function(msg, level)
    table.insert(H.result.notifications, { msg = tostring(msg), level = level })
  end
end

function H.sleep(ms)
  local me = assert(co)
  vim.defer_fn(function()
    local ok, err = coroutine.resume(me)
    if not ok then
      H.result.error = tostring(err)
      report_and_quit(2)
    end
  end, ms)
  coroutine.yield()
end

--- Wait until pred() is true, polling every 20 ms, at most timeout_ms. Records timeouts.
---@return boolean
function H.wait(pred, timeout_ms, what)
  local waited = 0
  while waited < timeout_ms do
    local ok, value = pcall(pred)
    if ok and value then
      return true
    end
    H.sleep(20)
    waited = waited + 20
  end
  table.insert(H.result.timeouts, what or 'condition')
  return false
end

--- Let the Python side act at this exact point (e.g. read the emulator log): print
--- PHASE:<name> and wait for <workdir>/<name>.go.
function H.phase(name)
  io.stdout:write('\nPHASE:' .. name .. '\n')
  io.stdout:flush()
  local go = vim.env.DSF_WORKDIR .. '/' .. name .. '.go'
  H.wait(function()
    return vim.uv.fs_stat(go) ~= nil
  end, 3000, 'phase ' .. name .. ' acknowledged')
end

--- Type keys as a user would (processed by the main loop after we yield).
function H.feed(keys)
  vim.api.nvim_input(keys)
end

--- Ghost text drawn in namespace `ns_name` in `bufnr`: first line (virt_text) and further
--- lines (virt_lines), joined with "\n"; nil when nothing is drawn.
function H.ghost(bufnr, ns_name)
  local ns = vim.api.nvim_get_namespaces()[ns_name]
  if not ns then
    return nil
  end
  local marks = vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })
  if #marks == 0 then
    return nil
  end
  local parts = {}
  for _, mark in ipairs(marks) do
    local d = mark[4]
    local first = {}
    for _, chunk in ipairs(d.virt_text or {}) do
      table.insert(first, chunk[1])
    end
    table.insert(parts, table.concat(first))
    for _, vl in ipairs(d.virt_lines or {}) do
      local line = {}
      for _, chunk in ipairs(vl) do
        table.insert(line, chunk[1])
      end
      table.insert(parts, table.concat(line))
    end
  end
  return table.concat(parts, '\n')
end

--- Count inline completion requests sent by any client (LspRequest autocmd).
function H.track_requests()
  H.result.requests_sent = 0
  H.result.requests_done = 0
  H.result.requests_cancelled = 0
  vim.api.nvim_create_autocmd('LspRequest', {
    callback = function(ev)
      local req = ev.data and ev.data.request
      if req and req.method == 'textDocument/inlineCompletion' then
        if req.type == 'pending' then
          H.result.requests_sent = H.result.requests_sent + 1
        elseif req.type == 'complete' then
          H.result.requests_done = H.result.requests_done + 1
        elseif req.type == 'cancel' then
          H.result.requests_cancelled = H.result.requests_cancelled + 1
        end
      end
    end,
  })
end

--- The deepseek_fim client, once attached to bufnr.
function H.client(bufnr)
  return vim.lsp.get_clients({ name = 'deepseek_fim', bufnr = bufnr })[1]
end

--- Open a file in the work directory and wait until the server is attached and ready.
---@return integer bufnr
function H.open(name, lines)
  local path = vim.env.DSF_WORKDIR .. '/' .. name
  vim.fn.writefile(lines or { '' }, path)
  vim.cmd.edit(vim.fn.fnameescape(path))
  local bufnr = vim.api.nvim_get_current_buf()
  H.wait(function()
    local c = H.client(bufnr)
    return c and c.initialized
  end, 5000, 'server attached')
  return bufnr
end

--- Namespace the renderer in use draws in (Neovim < 0.12 always uses the extmark one).
function H.namespace()
  local renderer = require('deepseek_fim.state').renderer
  H.result.renderer = renderer
  return renderer == 'fallback' and 'deepseek_fim.ghost' or 'nvim.lsp.inline_completion'
end

--- `deepseekFim/stats` from the server, synchronously (nil when unavailable).
function H.stats()
  local c = vim.lsp.get_clients({ name = 'deepseek_fim' })[1]
  if not c then
    return nil
  end
  local resp = c:request_sync('deepseekFim/stats', vim.empty_dict(), 2000, 0)
  return resp and resp.result or nil
end

function H.lines(bufnr)
  return vim.api.nvim_buf_get_lines(bufnr or 0, 0, -1, false)
end

--- Run the case body in a coroutine; report observations and quit when it returns.
function H.run(fn)
  vim.defer_fn(function()
    H.result.error = 'hard time limit reached'
    report_and_quit(3)
  end, tonumber(vim.env.DSF_TIME_LIMIT_MS or '8000'))
  co = coroutine.create(function()
    fn()
    report_and_quit(0)
  end)
  local ok, err = coroutine.resume(co)
  if not ok then
    H.result.error = tostring(err)
    report_and_quit(2)
  end
end

return H
