-- With the server's manualOnly setting nothing shows while typing; <M-]> asks for it.
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

local fallback = vim.env.DSF_RENDERER == 'fallback'
H.setup({ settings = H.settings({ manualOnly = true }), fallback = fallback })
H.track_requests()

--- What the user sees, whichever renderer drew it.
local function shown(bufnr)
  return H.ghost(bufnr, 'deepseek_fim.ghost') or H.ghost(bufnr, 'nvim.lsp.inline_completion')
end

H.run(function()
  local bufnr = H.open('manual.py', { '' })
  H.feed('iresult = ')
  H.wait(function()
    return H.result.requests_done >= 1
  end, 3000, 'automatic request answered')
  H.sleep(300)
  H.result.shown_while_typing = shown(bufnr) or vim.NIL
  H.feed('<M-]>')
  H.wait(function()
    return shown(bufnr) ~= nil
  end, 4000, 'shown on request')
  H.result.shown_on_request = shown(bufnr)
  H.feed('<Tab>')
  H.wait(function()
    return H.lines(bufnr)[1] ~= 'result = '
  end, 2000, 'accepted')
  H.result.lines = H.lines(bufnr)
end)
