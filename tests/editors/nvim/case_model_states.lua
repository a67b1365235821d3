-- How :DeepseekFim stats and :checkhealth word the three model states the server reports.
local H = dofile(vim.env.DSF_TEST_DIR .. '/harness.lua')

H.setup({ settings = H.settings() })

H.run(function()
  local commands = require('deepseek_fim.commands')
  for name, value in pairs({ listed = true, unknown = false, unlisted = vim.NIL }) do
    local stats = { model = 'deepseek-v4-flash', modelAvailable = value }
    if value == vim.NIL then
      stats.modelAvailable = nil
    end
    H.result[name] = commands.format_stats(stats)[1]
  end
end)
