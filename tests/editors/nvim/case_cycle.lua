-- <M-]> / <M-[> ask the server for alternatives and cycle through them; <Tab> accepts the
-- one shown; <C-]> dismisses.
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

local fallback = vim.env.DSF_RENDERER == 'fallback'
H.setup({ settings = H.settings(), fallback = fallback })

--- What the user sees, whichever renderer drew it.
local function shown(bufnr)
  return H.ghost(bufnr, 'deepseek_fim.ghost') or H.ghost(bufnr, 'nvim.lsp.inline_completion')
end

H.run(function()
  local bufnr = H.open('cycle.py', { '' })
  H.feed('ivalue = ')
  H.wait(function()
    return shown(bufnr) ~= nil
  end, 4000, 'first suggestion')
  H.result.first = shown(bufnr)
  H.result.seen = {}
  for _, key in ipairs({ '<M-]>', '<M-]>', '<M-[>' }) do
    local before = shown(bufnr)
    H.feed(key)
    H.wait(function()
      local now = shown(bufnr)
      return now ~= nil and now ~= before
    end, 4000, 'after ' .. key)
    table.insert(H.result.seen, shown(bufnr) or vim.NIL)
  end
  H.feed('<Tab>')
  H.wait(function()
    return H.lines(bufnr)[1] ~= 'value = '
  end, 2000, 'accepted')
  H.result.accepted_line = H.lines(bufnr)[1]
  H.feed('<CR>other = ')
  H.wait(function()
    return shown(bufnr) ~= nil
  end, 4000, 'suggestion on the next line')
  H.feed('<C-]>')
  H.wait(function()
    return shown(bufnr) == nil
  end, 2000, 'dismissed')
  H.sleep(400)
  H.result.after_dismiss = shown(bufnr) or vim.NIL
  H.result.lines = H.lines(bufnr)
end)
