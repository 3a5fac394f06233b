"""The relay's kill-and-redeliver cases, shared by the real-server tests (tests/test_faults.py) and the same
cases over the fakes (tests/relay/test_over_fakes.py)."""

from __future__ import annotations

#: Every relay kill point but `ses_accepted` (SES took the chunk, its record is not written yet): a kill
#: there is the one window in which the relay can send a chunk twice (see `sesflow.relay.send`).
RELAY_STEPS = (
    "load",
    "gate",
    "recipients",
    "store_attachments",
    "sign_links",
    "compose",
    "chunk_recorded",
    "send",
    "report",
)

#: Two chunks (50 and 10): a kill between them is a kill mid-mail.
SIXTY_RECIPIENTS = ", ".join(f"user{n}@plant.example.com" for n in range(60))
#: Three chunks (50, 50 and 20).
HUNDRED_TWENTY_RECIPIENTS = ", ".join(f"user{n}@plant.example.com" for n in range(120))
