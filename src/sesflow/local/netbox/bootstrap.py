"""Users and API tokens baked into the seed: a superuser with a v1 and a v2 token, and a read-only user."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class SeedToken:
    username: str
    version: int
    secret: str
    key: str = ""

    @property
    def value(self) -> str:
        """What a client sends: the plaintext (v1) or `nbt_<key>.<plaintext>` (v2)."""
        return f"nbt_{self.key}.{self.secret}" if self.version == 2 else self.secret


ADMIN_PASSWORD = "sesflow-admin-password"  # noqa: S105 - a loopback test instance's login
ADMIN_V1 = SeedToken("admin", 1, "0123456789abcdef0123456789abcdef01234567")
ADMIN_V2 = SeedToken("admin", 2, "sesflowadmin0sesflowadmin0sesflowadmin00", key="sesflowadmin")
READER_V2 = SeedToken("reader", 2, "sesflowreader0sesflowreader0sesflowreade", key="sesflowreadr")
SEED_TOKENS = (ADMIN_V1, ADMIN_V2, READER_V2)

# Runs inside `netbox shell`; the reader may view every object type and change nothing.
_SCRIPT = """
import json
from django.contrib.contenttypes.models import ContentType
from users.models import ObjectPermission, Token, User

admin = User.objects.create_user("admin", password={password!r}, is_superuser=True)
reader = User.objects.create_user("reader", password={password!r})
view_all = ObjectPermission.objects.create(name="view everything", actions=["view"])
view_all.object_types.set(ContentType.objects.all())
view_all.users.add(reader)
users = {{"admin": admin, "reader": reader}}
for token in json.loads({tokens!r}):
    key = {{"key": token["key"]}} if token["key"] else {{}}
    Token(version=token["version"], user=users[token["username"]], token=token["secret"], **key).save()
"""


def bootstrap_script() -> str:
    tokens = json.dumps([asdict(token) for token in SEED_TOKENS])
    return _SCRIPT.format(password=ADMIN_PASSWORD, tokens=tokens)
