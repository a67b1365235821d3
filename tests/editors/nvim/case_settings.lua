-- `settings` reach the server (initializationOptions / workspace/configuration), and
-- update_settings() changes them while it runs (didChangeConfiguration).
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

H.setup({ settings = H.settings({ model = 'deepseek-v4-pro' }) })

H.run(function()
  local bufnr = H.open('settings.py', { '' })
  local ns = H.namespace()
  H.feed('ifirst = ')
  H.wait(function()
    return H.ghost(bufnr, ns) ~= nil
  end, 4000, 'first suggestion')
  H.result.model_before = (H.stats() or {}).model
  require('deepseek_fim').update_settings({ model = 'deepseek-flash' })
  H.wait(function()
    return (H.stats() or {}).model == 'deepseek-flash'
  end, 2000, 'server took the new model')
  H.result.model_after = (H.stats() or {}).model
  H.feed('<Esc>osecond = ')
  H.wait(function()
    return H.ghost(bufnr, ns) ~= nil and H.lines(bufnr)[2] == 'second = '
  end, 4000, 'second suggestion')
end)
