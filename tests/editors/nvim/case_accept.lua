-- Typing shows the server's suggestion as ghost text; <Tab> accepts it into the buffer and
-- runs the item's command (the server counts the acceptance).
-- DSF_RENDERER=native|fallback picks the renderer.
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

local fallback = vim.env.DSF_RENDERER == 'fallback'
H.setup({ settings = H.settings(), fallback = fallback })

H.run(function()
  local bufnr = H.open('accept.py', { '' })
  local ns = H.namespace()
  H.feed('idef hello')
  H.wait(function()
    return H.ghost(bufnr, ns) ~= nil
  end, 5000, 'suggestion shown')
  H.result.ghost = H.ghost(bufnr, ns)
  H.feed('<Tab>')
  H.wait(function()
    return H.ghost(bufnr, ns) == nil and H.lines(bufnr)[1] ~= 'def hello'
  end, 2000, 'accepted')
  H.result.lines = H.lines(bufnr)
  H.result.mode = vim.api.nvim_get_mode().mode
  H.feed('X')
  H.wait(function()
    local lines = H.lines(bufnr)
    return lines[#lines]:sub(-1) == 'X'
  end, 2000, 'typed after accept')
  H.result.lines_after_typing = H.lines(bufnr)
  H.wait(function()
    local s = H.stats()
    return s and s.session.accepted > 0
  end, 2000, 'server counted the acceptance')
  H.result.stats = H.stats()
end)
