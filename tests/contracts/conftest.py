"""Each port's contract runs twice: against the real adapter (the real NetBox + netbox-notices, moto's S3 and
SES; marked `netbox`/`integration`) and against its fake in tests/fakes/ (marked `unit`). A contract test that
fails on the real adapter means the fake, not the test, is wrong."""

from __future__ import annotations

# The real NetBox, for the `real` half only: fixtures are requested by name when a test needs them.
from ..netbox.conftest import clean_netbox, nb_client, netbox  # noqa: F401
