"""Test and demo data put into a running NetBox through its API, described as data: providers with their
circuits, contacts with emails, and a notification template.

Seeding is idempotent: each object type costs one lookup and, for what is missing, one bulk POST, so seeding
an already seeded NetBox (a `local up` on a kept database) creates nothing and raises nothing."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from sesflow.netbox.client import NetBoxClient, Params, netbox_version
from sesflow.netbox.event_rules import ready_conditions

PROVIDERS = "/api/circuits/providers/"
CIRCUIT_TYPES = "/api/circuits/circuit-types/"
CIRCUITS = "/api/circuits/circuits/"
CONTACTS = "/api/tenancy/contacts/"
TEMPLATES = "/api/plugins/notices/notification-templates/"
WEBHOOKS = "/api/extras/webhooks/"
EVENT_RULES = "/api/extras/event-rules/"

#: A corpus folder's list of notices: provider, mails, expected results (tests/data/corpus/… in a checkout).
CORPUS_INDEX = "INDEX.tsv"
#: The corpus's providers and circuits, shipped in the package so an installed sesflow can seed NetBox.
PACKAGED_SEED = "samples/notices/netbox-seed.json"


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
    """Ids of what was created or found, by the names the seed data used."""

    providers: dict[str, int] = field(default_factory=dict)  # slug -> id
    circuits: dict[tuple[str, str], int] = field(default_factory=dict)  # (provider slug, cid) -> id
    contacts: dict[str, int] = field(default_factory=dict)  # email -> id
    circuit_type: int | None = None
    template: int | None = None


DEMO_CONTACTS = (ContactSeed("NOC", "noc@example.net"), ContactSeed("On call", "oncall@example.net"))

DEMO_SEED = SeedData(
    providers=(
        ProviderSeed("Zayo", "zayo", ("ZAYO-0001", "ZAYO-0002")),
        ProviderSeed("Lumen", "lumen", ("LUMEN-0001",)),
    ),
    contacts=DEMO_CONTACTS,
    template=TemplateSeed(),
)


def corpus_seed(
    corpus_dir: Path,
    *,
    contacts: tuple[ContactSeed, ...] = DEMO_CONTACTS,
    template: TemplateSeed | None = None,
) -> SeedData:
    """One provider per parser provider in the corpus's INDEX.tsv (slug = the parser's provider name, which is
    what the inbound flow maps to NetBox), with every circuit id its expected results mention.

    The provider comes from the index, not from the results' `provider` field: that field is missing in some
    results and a display name in others ("euNetworks.com", "PCCW Global")."""
    circuits: dict[str, dict[str, None]] = {}  # provider -> cids, in first-seen order without repeats
    with (corpus_dir / CORPUS_INDEX).open(newline="", encoding="utf-8") as index:
        for row in csv.DictReader(index, delimiter="\t"):
            provider = row["provider"]
            cids = circuits.setdefault(provider, {})
            # A notice made of several mails lists one result per mail, joined by "+".
            for result_file in row["result_file"].split("+"):
                for maintenance in _maintenances(corpus_dir / provider / result_file):
                    for circuit in maintenance.get("circuits") or ():
                        cids[str(circuit["circuit_id"])] = None
    return SeedData(
        providers=tuple(ProviderSeed(slug, slug, tuple(cids)) for slug, cids in circuits.items()),
        contacts=contacts,
        template=template if template is not None else TemplateSeed(),
    )


def packaged_seed(
    *, contacts: tuple[ContactSeed, ...] = DEMO_CONTACTS, template: TemplateSeed | None = None
) -> SeedData:
    """What `corpus_seed` makes of the test corpus, read from the package's copy (the corpus itself stays in
    the repository's tests/data/, outside the wheel and the Lambda bundles)."""
    document = json.loads(files("sesflow.local").joinpath(PACKAGED_SEED).read_text(encoding="utf-8"))
    providers: dict[str, list[str]] = document["providers"]
    return SeedData(
        providers=tuple(ProviderSeed(slug, slug, tuple(cids)) for slug, cids in providers.items()),
        contacts=contacts,
        template=template if template is not None else TemplateSeed(),
    )


def _maintenances(result_path: Path) -> list[dict[str, Any]]:
    data = json.loads(result_path.read_text(encoding="utf-8"))
    return data if isinstance(data, list) else [data]


def seed_netbox(client: NetBoxClient, data: SeedData) -> Seeded:
    """Make sure everything in `data` exists, creating only what is missing; returns every object's id."""
    seeded = Seeded()
    if data.providers:
        _seed_providers_and_circuits(client, data, seeded)
    if data.contacts:
        contacts = {
            contact.email: {"name": contact.name, "email": contact.email} for contact in data.contacts
        }
        # Not brief: a brief contact has no email to recognise it by.
        seeded.contacts = _ensure(
            client, CONTACTS, contacts, lambda item: item["email"], {"email": list(contacts)}, brief=False
        )
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
        found_templates = _ensure(
            client, TEMPLATES, {template.slug: body}, _slug, {"slug": template.slug}, brief=False
        )
        seeded.template = found_templates[template.slug]
    return seeded


def _seed_providers_and_circuits(client: NetBoxClient, data: SeedData, seeded: Seeded) -> None:
    providers = {provider.slug: {"name": provider.name, "slug": provider.slug} for provider in data.providers}
    seeded.providers = _ensure(client, PROVIDERS, providers, _slug, {"slug": list(providers)})
    circuit_type = {data.circuit_type: {"name": data.circuit_type.title(), "slug": data.circuit_type}}
    seeded.circuit_type = _ensure(client, CIRCUIT_TYPES, circuit_type, _slug, {"slug": [data.circuit_type]})[
        data.circuit_type
    ]
    circuits = {
        (provider.slug, cid): {
            "cid": cid,
            "provider": seeded.providers[provider.slug],
            "type": seeded.circuit_type,
            "status": "active",
        }
        for provider in data.providers
        for cid in provider.circuit_ids
    }
    if not circuits:
        return
    slug_by_id = {number: slug for slug, number in seeded.providers.items()}

    def circuit_key(item: Mapping[str, Any]) -> tuple[str, str]:
        # Another provider's circuit (a slug is never empty) is not among the wanted keys.
        return slug_by_id.get(item["provider"]["id"], ""), str(item["cid"])

    params: Params = {
        "provider_id": list(seeded.providers.values()),
        "cid": sorted({cid for _, cid in circuits}),
    }
    seeded.circuits = _ensure(client, CIRCUITS, circuits, circuit_key, params)


def _slug(item: Mapping[str, Any]) -> str:
    return str(item["slug"])


def _ensure[Key: Hashable](
    client: NetBoxClient,
    path: str,
    wanted: Mapping[Key, dict[str, Any]],
    key_of: Callable[[Mapping[str, Any]], Key],
    params: Params,
    *,
    brief: bool = True,
) -> dict[Key, int]:
    """{key: id} for every wanted object: one filtered lookup, then one bulk POST of the missing ones.

    Objects are matched by their key read back from NetBox, not trusted to the filter: NetBox ignores an
    unknown filter silently, and then a typo would cost a longer answer but never a wrong id."""
    ids = {
        key: int(item["id"])
        for item in client.iterate(path, params, brief=brief)
        if (key := key_of(item)) in wanted
    }
    missing = [body for key, body in wanted.items() if key not in ids]
    if missing:
        ids |= {key_of(item): int(item["id"]) for item in client.post(path, missing)}
    return ids


def seed_ready_webhook(
    client: NetBoxClient, payload_url: str, secret: str, name: str = "sesflow outbound"
) -> int:
    """A signed webhook to `payload_url` and the event rule that fires it when a prepared notification is
    updated to `ready` (the outbound flow's webhook mode); returns the event rule's id. On NetBox 4.7+ the
    rule fires only on the change to `ready`, not on later edits of a ready notification."""
    webhook = client.post(
        WEBHOOKS,
        {
            "name": name,
            "payload_url": payload_url,
            "http_method": "POST",
            "http_content_type": "application/json",
            "secret": secret,
        },
    )
    rule = client.post(
        EVENT_RULES,
        {
            "name": f"{name}: notification ready",
            "object_types": ["notices.preparednotification"],
            "event_types": ["object_updated"],
            "action_type": "webhook",
            "action_object_type": "extras.webhook",
            "action_object_id": webhook["id"],
            "conditions": ready_conditions(netbox_version(client.status())),
        },
    )
    return int(rule["id"])
