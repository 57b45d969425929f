"""Region adapters: one subpackage per region, found through the ``tongban.adapters``
entry-point group. The core never imports them by name.

Public surface: `adapters.base` (the contract), `adapters.http` (the core's shared client, re-used),
`adapters.sandbox` (what every sandbox shares; the simulated review behind it is in
`adapters.sandbox_cases`), `adapters.testing` (fakes).
"""

__all__ = ["base", "http", "sandbox", "testing"]
