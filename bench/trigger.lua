-- wrk script: POST a trigger (or a batch) with a ~200-byte payload.
-- Set by bench/trigger through environment variables:
--   KEY   the secret key;  MODE  "single" or "batch";  ITEMS  items per batch
local key = os.getenv("KEY")
local mode = os.getenv("MODE") or "single"
local items = tonumber(os.getenv("ITEMS") or "500")
local payload = '{\\"orderId\\":\\"ord_0123456789\\",\\"customer\\":{\\"id\\":\\"cus_42\\",' ..
  '\\"email\\":\\"someone@example.com\\"},\\"lines\\":[{\\"sku\\":\\"A-1\\",\\"qty\\":2},' ..
  '{\\"sku\\":\\"B-7\\",\\"qty\\":1}],\\"note\\":\\"benchmark payload of about two hundred bytes\\"}'

wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-trigger-api-version"] = "2025-07-16"

if mode == "batch" then
  wrk.path = "/api/v2/tasks/batch"
  local parts = {}
  for i = 1, items do
    parts[i] = '{"task":"bench","payload":"' .. payload .. '"}'
  end
  wrk.body = '{"items":[' .. table.concat(parts, ",") .. ']}'
else
  wrk.path = "/api/v1/tasks/bench/trigger"
  wrk.body = '{"payload":"' .. payload .. '","options":{"tags":["bench"]}}'
end
