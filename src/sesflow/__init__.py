"""sesflow: email pipelines on Amazon SES.

Two systems share this package: `notices` (NetBox maintenance notices in and out) and `relay`
(IoT mail capture and distribution).
"""

__version__ = "0.1.0"
