"""The working-day calendar as data: holiday schedules per year, validated, and their arithmetic.

`schedule` reads and validates one file (file and line in every refusal), `files`
reads the directories, `workdays` is the bisect table deadlines are counted on,
`recompute` moves open cases' due dates when a year is loaded, `runtime` wires it
into the gateway (start-up, readiness, metric, reload) and `cli` is ``tongban calendar``.
"""
