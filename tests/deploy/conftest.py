"""Fixtures the sample-event tests borrow: the real NetBox with the inbound corpus seeded, and the relay's
world on moto's server and SeaweedFS."""

from ..netbox.conftest import (  # noqa: F401
    clean_netbox,
    nb_client,
    netbox,
    notices,
    seeded,
)
from ..notices.conftest import corpus_seeded, make_inbox, no_parser_network  # noqa: F401
from ..notices.outbound.conftest import clock, netbox_mode, outbound, ses_ready  # noqa: F401
from ..notices.tracking.conftest import prepared, tracking_seeded  # noqa: F401
from ..relay.conftest import world  # noqa: F401
