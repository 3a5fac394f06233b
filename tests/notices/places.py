"""Sites, locations, devices and circuit terminations made in the real NetBox through its API, by the same
calls a test makes on `FakeNotices` (`add_site`, `add_location`, `add_device`, `terminate`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sesflow.netbox.client import NetBoxClient


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@dataclass
class NetBoxPlaces:
    client: NetBoxClient
    _device_kind: tuple[int, int] | None = field(default=None, init=False)  # (device type, role)

    def add_site(self, name: str) -> int:
        return int(self.client.post("/api/dcim/sites/", {"name": name, "slug": _slug(name)})["id"])

    def add_location(self, name: str, site_id: int) -> int:
        body = {"name": name, "slug": _slug(name), "site": site_id}
        return int(self.client.post("/api/dcim/locations/", body)["id"])

    def add_device(self, name: str, site_id: int) -> int:
        device_type, role = self._kind()
        body = {"name": name, "device_type": device_type, "role": role, "site": site_id}
        return int(self.client.post("/api/dcim/devices/", body)["id"])

    def terminate(self, circuit_id: int, scope: str, scope_id: int, side: str = "A") -> None:
        body = {
            "circuit": circuit_id,
            "term_side": side,
            "termination_type": scope,
            "termination_id": scope_id,
        }
        self.client.post("/api/circuits/circuit-terminations/", body)

    def _kind(self) -> tuple[int, int]:
        if self._device_kind is None:
            maker = self.client.post("/api/dcim/manufacturers/", {"name": "Maker", "slug": "maker"})
            body = {"model": "Router", "slug": "router", "manufacturer": maker["id"]}
            device_type = self.client.post("/api/dcim/device-types/", body)
            role = self.client.post("/api/dcim/device-roles/", {"name": "Edge", "slug": "edge"})
            self._device_kind = (int(device_type["id"]), int(role["id"]))
        return self._device_kind
