-- The extmark renderer's own request flow: a newer request cancels the one in flight,
-- typing the suggestion's first characters keeps it without a new request, moving the
-- cursor or leaving insert mode clears it.
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

H.setup({ settings = H.settings(), fallback = true })
H.track_requests()

H.run(function()
  local bufnr = H.open('flow.py', { '' })
  local ns = H.namespace()
  -- The first answer is slow (scripted); typing on while it runs must cancel it.
  H.feed('ix =')
  H.wait(function()
    return H.result.requests_sent >= 1
  end, 3000, 'first request sent')
  H.feed(' ')
  H.wait(function()
    return H.ghost(bufnr, ns) ~= nil
  end, 5000, 'suggestion shown')
  H.result.cancelled = H.result.requests_cancelled
  H.result.ghost = H.ghost(bufnr, ns)

  local sent = H.result.requests_sent
  H.feed('hel')
  H.wait(function()
    return H.ghost(bufnr, ns) == 'lo_world()'
  end, 2000, 'type-through')
  H.sleep(300)
  H.result.ghost_typed_through = H.ghost(bufnr, ns)
  H.result.requests_during_type_through = H.result.requests_sent - sent

  H.feed('<Left>')
  H.wait(function()
    return H.ghost(bufnr, ns) == nil
  end, 1000, 'cleared on cursor move')
  H.result.ghost_after_move = H.ghost(bufnr, ns) or vim.NIL

  H.feed('<End>')
  H.wait(function()
    return H.ghost(bufnr, ns) ~= nil
  end, 3000, 'shown again at the end')
  H.feed('<Esc>')
  H.wait(function()
    return H.ghost(bufnr, ns) == nil
  end, 1000, 'cleared on InsertLeave')
  H.result.ghost_after_esc = H.ghost(bufnr, ns) or vim.NIL
  H.result.lines = H.lines(bufnr)
end)
