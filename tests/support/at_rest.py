"""The passphrase test gateways encrypt their keys at rest under (checkpoint key, PII ring)."""

TEST_PASSPHRASE = "throwaway test passphrase"  # noqa: S105 - keys in tmp_path only
