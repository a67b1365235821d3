-- <M-w> accepts one word, <M-l> one line; the rest of the suggestion stays available
-- (kept by the fallback renderer, re-requested from the server's cache by the native one).
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

local fallback = vim.env.DSF_RENDERER == 'fallback'
H.setup({ settings = H.settings(), fallback = fallback })

H.run(function()
  local bufnr = H.open('partial.py', { '' })
  local ns = H.namespace()
  H.result.steps = {}
  local function step(keys, what)
    local before = table.concat(H.lines(bufnr), '\n')
    H.feed(keys)
    H.wait(function()
      return table.concat(H.lines(bufnr), '\n') ~= before
    end, 2000, what .. ' inserted')
    H.wait(function()
      return H.ghost(bufnr, ns) ~= nil
    end, 3000, what .. ': rest shown')
    table.insert(H.result.steps, { lines = H.lines(bufnr), ghost = H.ghost(bufnr, ns) or vim.NIL })
  end
  H.feed('idef greet')
  H.wait(function()
    return H.ghost(bufnr, ns) ~= nil
  end, 4000, 'suggestion shown')
  H.result.ghost = H.ghost(bufnr, ns)
  step('<M-w>', 'first word')
  step('<M-w>', 'second word')
  step('<M-l>', 'rest of the line')
  H.feed('<M-l>')
  H.wait(function()
    return #H.lines(bufnr) == 2
  end, 2000, 'second line inserted')
  H.result.final = H.lines(bufnr)
  H.result.cursor = vim.api.nvim_win_get_cursor(0)
end)
