-- :checkhealth deepseek_fim runs without errors and reports binary, key, server and model.
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

H.setup({ settings = H.settings() })

H.run(function()
  H.open('health.py', { 'x = 1' })
  -- A first completion makes the server check the model.
  H.feed('ix')
  H.sleep(600)
  H.feed('<Esc>')
  H.sleep(50)
  vim.cmd('checkhealth deepseek_fim')
  H.wait(function()
    local text = table.concat(H.lines(0), '\n')
    return vim.bo.filetype == 'checkhealth'
      and (text:find('last server error', 1, true) or text:find('no server errors', 1, true))
  end, 4000, 'health report complete')
  H.result.report = H.lines(0)
end)
