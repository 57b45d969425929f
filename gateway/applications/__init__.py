"""Applications (办件): model, status lifecycle, intake, supplements, ratings.

`Status` and `FINAL_STATUSES` live in `gateway.envelope`, the contract adapters share.
"""
