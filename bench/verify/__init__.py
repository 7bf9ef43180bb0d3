"""`bench verify`: retrain a leaderboard row at held-out seeds and check each against the row's
95 % prediction interval (docs/verify.md).

`identity`, `record`, `status` and `coverage` read and write JSON only (no torch): the aggregate
step imports them to show each row's verification status. `heldout` trains and scores.
"""
