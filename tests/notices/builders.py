"""What the inbound tests share, over the real NetBox or over the fakes: the mails (corpus files and built
BCOP notices), the Lambda context, the kill-point steps and delivery orders, and an inbox that delivers to
the flow wired with `FakeNotices` and `FakeObjectStore`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from sesflow.local.netbox.seed import Seeded, corpus_seed
from sesflow.mail import parse_mail
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import PLUGIN
from sesflow.notices.inbound.context import InboundDeps
from sesflow.notices.inbound.outcome import Outcome
from sesflow.notices.inbound.pipeline import run
from sesflow.notices.inbound.replay import classify, process_stored_mail

from ..conftest import CORPUS
from ..fakes.inbound_netbox import FakeInboundNetBox
from ..fakes.notices import FakeNotices
from ..fakes.object_store import FakeObjectStore
from .conftest import BUCKET, PREFIX, RECEIVED, corpus_path, inbound_settings_for, receipt_event

ZAYO4 = corpus_path("zayo", "zayo4.eml")

#: The inbound steps a kill is tried after (`sesflow.faults` names them `inbound.<step>`).
STEPS = ("load", "plan", "write_maintenance", "write_impacts", "final_status", "store_mail", "report")
#: colt3 announces a window; colt5 (a later notice) moves it; colt4, older than colt5, comes last.
IN_TIME, LATE = ("colt3.eml",), ("colt3.eml", "colt5.eml", "colt4.eml")
#: crowncastle7 completes the 2 December window and crowncastle1 announces 3 January under the same id; both
#: mails carry one sequence and one Date.
SAME_STAMP = ("crowncastle7.eml", "crowncastle1.eml")
COLT_NOTICES = ("colt3.eml", "colt4.eml", "colt5.eml")


class LambdaContext:
    function_name = "inbound"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:inbound"
    aws_request_id = "req-1"


def count(client: NetBoxClient, name: str) -> int:
    return int(client.get(f"{PLUGIN}/{name}/", {"limit": 1})["count"])


def forwarded(forwarder: str) -> bytes:
    """zayo4 attached to a mail from `forwarder`."""
    outer = EmailMessage()
    outer["From"] = forwarder
    outer["To"] = "notices@example.net"
    outer["Subject"] = "Fwd: Zayo maintenance"
    outer.set_content("See the attached notice.")
    original = parse_mail(ZAYO4.read_bytes()).message
    outer.add_attachment(original)
    return outer.as_bytes()


def colt(name: str) -> bytes:
    return corpus_path("colt", name).read_bytes()


def bcop(sequence: int, day: int, status: str) -> bytes:
    """A BCOP iCalendar notice (read by the parser's generic provider) for one circuit of provider zayo."""
    calendar = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//sesflow tests//EN",
            "BEGIN:VEVENT",
            "SUMMARY:Fiber work",
            f"DTSTART;VALUE=DATE-TIME:203103{day:02d}T220000Z",
            f"DTEND;VALUE=DATE-TIME:203103{day + 1:02d}T040000Z",
            f"DTSTAMP;VALUE=DATE-TIME:2031020{sequence}T090000Z",
            "UID:BCOP-1@noc.example.org",
            f"SEQUENCE:{sequence}",
            "X-MAINTNOTE-PROVIDER:zayo",
            "X-MAINTNOTE-ACCOUNT:acct",
            "X-MAINTNOTE-MAINTENANCE-ID:BCOP-1",
            "X-MAINTNOTE-OBJECT-ID:/OGYX/123456/   /ZYO /",
            "X-MAINTNOTE-IMPACT:OUTAGE",
            f"X-MAINTNOTE-STATUS:{status}",
            "ORGANIZER:mailto:noc@noc.example.org",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    message = EmailMessage()
    message["From"] = "noc@noc.example.org"
    message["Subject"] = f"Maintenance BCOP-1 ({status}, sequence {sequence})"
    message["Date"] = f"Sat, 0{sequence} Feb 2031 09:00:00 +0000"
    message.set_content("See the calendar.")
    message.add_attachment(calendar.encode(), maintype="text", subtype="calendar", filename="notice.ics")
    return message.as_bytes()


NOTICE, RESCHEDULE, CANCEL = bcop(1, 1, "CONFIRMED"), bcop(2, 8, "CONFIRMED"), bcop(3, 8, "CANCELLED")
SECOND_RESCHEDULE = bcop(3, 15, "CONFIRMED")


@dataclass
class FakeInbox:
    """Delivers mails as SES's receipt rule does (object in the bucket + receipt event) to the inbound flow
    wired with the fakes: `FakeNotices` seeded with the corpus's providers and circuits, `FakeObjectStore`."""

    notices: FakeNotices = field(default_factory=FakeNotices)
    store: FakeObjectStore = field(default_factory=lambda: FakeObjectStore(BUCKET))
    environ: dict[str, str] = field(default_factory=dict)
    counter: int = 0
    seeded: Seeded = field(init=False)
    deps: InboundDeps = field(init=False)

    def __post_init__(self) -> None:
        self.seeded = self.notices.seed(corpus_seed(CORPUS))
        settings = inbound_settings_for("http://netbox.invalid", "0" * 40, **self.environ)
        self.deps = InboundDeps(settings, self.store, FakeInboundNetBox(self.notices))  # type: ignore[arg-type]

    def deliver(self, raw: bytes, *, source: str, **event: Any) -> Outcome:
        self.counter += 1
        message_id = f"ses-{self.counter:04d}"
        event.setdefault("received", RECEIVED + timedelta(seconds=self.counter))
        self.store.put_bytes(BUCKET, PREFIX + message_id, raw)
        outcomes = run(
            receipt_event(message_id, source=source, **event), self.deps, on_outcome=lambda o: None
        )
        assert len(outcomes) == 1
        return outcomes[0]

    def replay(self, number: int) -> tuple[str, str]:
        """The operator's replay of delivery `number` from the bucket (vouched: no SES verdicts)."""
        message_id = f"ses-{number:04d}"
        raw = self.store.get(BUCKET, PREFIX + message_id).data
        return classify(process_stored_mail(message_id, parse_mail(raw), self.deps, vouched=True))


def maintenances(fake: FakeNotices) -> list[dict[str, Any]]:
    return [fake.maintenance_data(row_id) for row_id in sorted(fake.maintenances)]


def mails_on(fake: FakeNotices, maintenance_id: int) -> int:
    return sum(1 for row in fake.event_notifications.values() if row["event_object_id"] == maintenance_id)


def final_state(fake: FakeNotices) -> list[tuple[Any, ...]]:
    """Per window, by start: name, status, start, end, the replaced window's start, impacts, stored mails."""
    by_id = {m["id"]: m for m in maintenances(fake)}
    state = []
    for item in by_id.values():
        replaced = by_id[item["replaces"]]["start"] if item["replaces"] else None
        impacts = sorted((i.target_object_id, i.impact) for i in fake.list_impacts(item["id"]))
        mails = mails_on(fake, item["id"])
        state.append((item["name"], item["status"], item["start"], item["end"], replaced, impacts, mails))
    return sorted(state, key=lambda row: row[2])


def colt_state(fake: FakeNotices) -> list[tuple[Any, ...]]:
    by_id = {m["id"]: m for m in maintenances(fake)}
    return sorted(
        (m["status"], m["start"], by_id[m["replaces"]]["start"] if m["replaces"] else None)
        for m in by_id.values()
    )


def objects(fake: FakeNotices) -> Counter[tuple[Any, ...]]:
    """Maintenances, impacts and stored mails, keyed by window (no ids), as the kill-point tests compare
    NetBox."""
    found = fake.maintenances

    def window(maintenance_id: int | None) -> tuple[str, str, str] | None:
        if maintenance_id is None:
            return None
        item = found[int(maintenance_id)]
        return item["name"], item["start"], item["end"]

    items: Counter[tuple[Any, ...]] = Counter()
    for item in found.values():
        items[("maintenance", window(item["id"]), item["status"], window(item.get("replaces")))] += 1
    for impact in fake.impacts.values():
        target = fake.circuits.get(int(impact["target_object_id"]), {}).get("cid")
        items[("impact", window(impact["event_object_id"]), target, impact["impact"])] += 1
    for mail in fake.event_notifications.values():
        items[("mail", window(mail["event_object_id"]), mail["subject"])] += 1
    return items
