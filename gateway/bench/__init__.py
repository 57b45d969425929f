"""`tongban bench`: the gateway's speed, measured as it runs in production.

The gateway, the sandboxes and the baselines run as separate processes on loopback;
the load comes from yet another process (`loadgen`), signing every request as a real
partner does. One idea per module: `loadgen` (the client), `cluster` (the processes
under test), `baselines` (bare handler, nginx), `meter` (CPU and peak RSS from /proc),
`scenarios` (what each scenario drives), `report` (table and JSON), `growth` (a fast
store filler), `explain` (query plans), `cli` (the command).
"""
