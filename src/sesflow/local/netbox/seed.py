"""Test and demo data put into a running NetBox through its API, described as data: providers with their
circuits, contacts with emails, and a notification template. Each object type is one bulk request."""

from __future__ import annotations

from dataclasses import dataclass, field

from sesflow.netbox.client import NetBoxClient


@dataclass(frozen=True)
class ProviderSeed:
    name: str
    slug: str
    circuit_ids: tuple[str, ...] = ()  # the provider's own circuit ids (NetBox `cid`)


@dataclass(frozen=True)
class ContactSeed:
    name: str
    email: str


@dataclass(frozen=True)
class TemplateSeed:
    name: str = "Maintenance notice"
    slug: str = "maintenance-notice"
    subject_template: str = "Maintenance {{ event.name }}"
    body_template: str = "Planned work from {{ event.start }} to {{ event.end }}."


@dataclass(frozen=True)
class SeedData:
    providers: tuple[ProviderSeed, ...] = ()
    contacts: tuple[ContactSeed, ...] = ()
    template: TemplateSeed | None = None
    circuit_type: str = "transit"


@dataclass
class Seeded:
    """Ids of what was created, by the names the seed data used."""

    providers: dict[str, int] = field(default_factory=dict)  # slug -> id
    circuits: dict[tuple[str, str], int] = field(default_factory=dict)  # (provider slug, cid) -> id
    contacts: dict[str, int] = field(default_factory=dict)  # email -> id
    circuit_type: int | None = None
    template: int | None = None


DEMO_SEED = SeedData(
    providers=(
        ProviderSeed("Zayo", "zayo", ("ZAYO-0001", "ZAYO-0002")),
        ProviderSeed("Lumen", "lumen", ("LUMEN-0001",)),
    ),
    contacts=(ContactSeed("NOC", "noc@example.net"), ContactSeed("On call", "oncall@example.net")),
    template=TemplateSeed(),
)


def seed_netbox(client: NetBoxClient, data: SeedData) -> Seeded:
    seeded = Seeded()
    if data.providers:
        providers = [{"name": provider.name, "slug": provider.slug} for provider in data.providers]
        seeded.providers = {
            item["slug"]: item["id"] for item in client.post("/api/circuits/providers/", providers)
        }
        type_body = {"name": data.circuit_type.title(), "slug": data.circuit_type}
        seeded.circuit_type = int(client.post("/api/circuits/circuit-types/", type_body)["id"])
        circuits = [
            {
                "cid": cid,
                "provider": seeded.providers[provider.slug],
                "type": seeded.circuit_type,
                "status": "active",
            }
            for provider in data.providers
            for cid in provider.circuit_ids
        ]
        if circuits:
            slug_by_id = {number: slug for slug, number in seeded.providers.items()}
            for item in client.post("/api/circuits/circuits/", circuits):
                seeded.circuits[(slug_by_id[item["provider"]["id"]], item["cid"])] = item["id"]
    if data.contacts:
        contacts = [{"name": contact.name, "email": contact.email} for contact in data.contacts]
        seeded.contacts = {
            item["email"]: item["id"] for item in client.post("/api/tenancy/contacts/", contacts)
        }
    if data.template is not None:
        template = data.template
        body = {
            "name": template.name,
            "slug": template.slug,
            "event_type": "maintenance",
            "granularity": "per_event",
            "subject_template": template.subject_template,
            "body_template": template.body_template,
            "body_format": "markdown",
        }
        seeded.template = int(client.post("/api/plugins/notices/notification-templates/", body)["id"])
    return seeded
