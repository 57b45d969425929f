"""The passphrase test gateways encrypt their keys at rest under (checkpoint key, PII ring),
and the environment a ``tongban`` subprocess of a test runs in."""

import os

TEST_PASSPHRASE = "throwaway test passphrase"  # noqa: S105 - keys in tmp_path only


def tongban_env() -> dict[str, str]:
    """The environment for a ``tongban`` subprocess: this one's, minus any ``TONGBAN_*``
    setting (the test's config file decides), plus `TEST_PASSPHRASE` for keys at rest."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env["TONGBAN_SECURITY__KEY_PASSPHRASE"] = TEST_PASSPHRASE
    return env
