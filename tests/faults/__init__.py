"""The fault suite: real services, real workers, every event accounted for (issue 8)."""
