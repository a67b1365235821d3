-- A typing session with the plugin's defaults (native inline completion), keys at a fixed
-- cadence (DSF_KEY_MS, default 90), text from DSF_SESSION_FILE. With DSF_CMP_LIKE=1 a completion
-- source asks `textDocument/completion` the way nvim-cmp's LSP source does: on every keyword
-- character typed, `triggerKind: Invoked`, cancelling its previous request. The Python side
-- counts the FIM requests between the `start` and `done` phases.
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

H.setup({})
local cmp_like = vim.env.DSF_CMP_LIKE == '1'
local key_ms = tonumber(vim.env.DSF_KEY_MS or '90')
local settle_ms = 3000

local asked = {}
vim.api.nvim_create_autocmd('LspRequest', {
  callback = function(ev)
    local req = ev.data and ev.data.request
    if req and req.type == 'pending' then
      asked[req.method] = (asked[req.method] or 0) + 1
    end
  end,
})

--- The nvim-cmp-like source: TextChangedI, keyword character before the cursor → request.
local function attach_cmp_like(bufnr)
  local cancel_previous = nil
  H.result.cmp_requests = 0
  H.result.cmp_answers = 0
  vim.api.nvim_create_autocmd('TextChangedI', {
    buffer = bufnr,
    callback = function()
      local col = vim.api.nvim_win_get_cursor(0)[2]
      local before = vim.api.nvim_get_current_line():sub(1, col)
      if vim.fn.match(before, [[\k$]]) < 0 then
        return
      end
      if cancel_previous then
        cancel_previous()
      end
      H.result.cmp_requests = H.result.cmp_requests + 1
      local _, cancel = vim.lsp.buf_request(bufnr, 'textDocument/completion', function(client)
        local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
        params.context = { triggerKind = 1 }
        return params
      end, function(err, result)
        if not err and result then
          H.result.cmp_answers = H.result.cmp_answers + 1
        end
      end)
      cancel_previous = cancel
    end,
  })
end

H.run(function()
  local text = table.concat(vim.fn.readfile(vim.env.DSF_SESSION_FILE, 'b'), '\n')
  local bufnr = H.open('session.py', { '' })
  -- The session file spells out the indentation: no auto-indent on top of it.
  vim.bo[bufnr].indentexpr = ''
  vim.bo[bufnr].autoindent = false
  vim.bo[bufnr].smartindent = false
  vim.bo[bufnr].cindent = false
  if cmp_like then
    attach_cmp_like(bufnr)
  end
  H.result.renderer = require('deepseek_fim.state').renderer
  H.feed('i')
  H.sleep(500)
  H.phase('start')
  local t0 = vim.uv.now()
  local keys = 0
  for i = 1, #text do
    local due = t0 + (i - 1) * key_ms
    local wait = due - vim.uv.now()
    if wait > 0 then
      H.sleep(wait)
    end
    local ch = text:sub(i, i)
    H.feed(ch == '\n' and '<CR>' or ch == '<' and '<lt>' or ch)
    keys = keys + 1
  end
  H.result.session_ms = vim.uv.now() - t0
  H.sleep(settle_ms)
  H.phase('done')
  H.result.keys = keys
  H.result.asked = asked
  H.result.ghost_after_session = H.ghost(bufnr, 'nvim.lsp.inline_completion') or vim.NIL
  H.result.lines = H.lines(bufnr)
end)
