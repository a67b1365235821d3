-- While a snippet can jump forward, <Tab> jumps (Neovim's own mapping) even with a
-- suggestion shown; after the snippet ends, <Tab> accepts again.
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

local fallback = vim.env.DSF_RENDERER == 'fallback'
H.setup({ settings = H.settings(), fallback = fallback })

H.run(function()
  local bufnr = H.open('snippet.py', { '' })
  local ns = H.namespace()
  H.feed('i')
  H.sleep(50)
  vim.snippet.expand('call($1, $2)')
  H.feed('x')
  H.wait(function()
    return H.ghost(bufnr, ns) ~= nil
  end, 4000, 'suggestion shown inside the snippet')
  H.result.ghost = H.ghost(bufnr, ns)
  H.result.snippet_active = vim.snippet.active({ direction = 1 })
  H.feed('<Tab>')
  H.wait(function()
    return vim.api.nvim_win_get_cursor(0)[2] == #'call(x, '
  end, 2000, 'jumped to the second tabstop')
  H.result.line_after_jump = H.lines(bufnr)[1]
  H.result.cursor_after_jump = vim.api.nvim_win_get_cursor(0)
end)
