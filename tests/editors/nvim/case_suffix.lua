-- A suggestion that overlaps the text after the cursor (a closing bracket) is accepted
-- without doubling it.
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

local fallback = vim.env.DSF_RENDERER == 'fallback'
H.setup({ settings = H.settings(), fallback = fallback })

H.run(function()
  local bufnr = H.open('suffix.py', { 'print()' })
  local ns = H.namespace()
  vim.api.nvim_win_set_cursor(0, { 1, 6 })
  H.feed('ix')
  H.wait(function()
    return H.ghost(bufnr, ns) ~= nil
  end, 4000, 'suggestion shown')
  H.result.ghost = H.ghost(bufnr, ns)
  H.feed('<Tab>')
  H.wait(function()
    return H.lines(bufnr)[1] ~= 'print(x)'
  end, 2000, 'accepted')
  H.result.lines = H.lines(bufnr)
  H.result.cursor = vim.api.nvim_win_get_cursor(0)
end)
