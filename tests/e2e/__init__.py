"""Browser tests of the staff console."""
