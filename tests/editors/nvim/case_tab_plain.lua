-- Without a suggestion, <Tab> is a normal Tab (indent); with a completion menu open it is
-- left to the menu even while a suggestion is shown.
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

local fallback = vim.env.DSF_RENDERER == 'fallback'
H.setup({ settings = H.settings(), fallback = fallback })
H.track_requests()

H.run(function()
  local bufnr = H.open('plain.py', { 'alpha_value = 1', 'alphabet = 2', '' })
  local ns = H.namespace()
  vim.api.nvim_win_set_cursor(0, { 3, 0 })
  -- The server answers, with nothing to suggest (the emulator is scripted to say "").
  H.feed('i')
  H.wait(function()
    return H.result.requests_done > 0
  end, 4000, 'first request answered')
  H.sleep(100)
  H.result.ghost_before_tab = H.ghost(bufnr, ns) or vim.NIL
  H.feed('<Tab>')
  H.wait(function()
    return H.lines(bufnr)[3] ~= ''
  end, 2000, 'tab inserted')
  H.result.line_after_tab = H.lines(bufnr)[3]

  -- Now a suggestion is shown and the built-in completion menu is opened over it.
  H.feed('alp')
  H.wait(function()
    return H.ghost(bufnr, ns) ~= nil
  end, 4000, 'suggestion for alp shown')
  H.result.ghost_for_alp = H.ghost(bufnr, ns)
  H.feed('<C-n>')
  H.wait(function()
    return vim.fn.pumvisible() == 1
  end, 2000, 'completion menu open')
  H.result.pum_visible_at_tab = vim.fn.pumvisible() == 1
  H.result.ghost_at_tab = H.ghost(bufnr, ns) ~= nil
  H.feed('<Tab>')
  H.sleep(300)
  H.result.line_after_menu_tab = H.lines(bufnr)[3]
end)
