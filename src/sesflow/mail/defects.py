"""What was wrong with a mail: the defects sesflow records beside the standard library's, and the
record every defect is reported as."""

from dataclasses import dataclass
from email.errors import MessageDefect

PartPath = tuple[int, ...]
"""Where a part sits: () is the whole mail, (2, 1) the first child of its second child (1-based)."""


@dataclass(frozen=True, slots=True)
class MailDefect:
    """One defect of one part: its class name (`kind`), its text, and the header it concerns, if any."""

    part_path: PartPath
    kind: str
    detail: str = ""
    header: str | None = None

    @property
    def section(self) -> str:
        """The part path written as in IMAP, e.g. "2.1"; empty for the whole mail."""
        return ".".join(str(number) for number in self.part_path)


class NestingTooDeepDefect(MessageDefect):
    """A container nested deeper than the parser follows; its content was kept as an opaque body."""


class RecursionLimitDefect(MessageDefect):
    """Parsing hit Python's recursion limit; the mail holds what was parsed up to that point."""


class OversizedHeaderDefect(MessageDefect):
    """A header too long to parse safely; only its first part was parsed, its raw text is kept."""


class UnparseableHeaderDefect(MessageDefect):
    """A header the policy could not parse at all; its accessors give the raw text."""


class BodyLinesInHeaderBlockDefect(MessageDefect):
    """Body lines that looked like headers (no blank line after the part's headers); moved back."""


class Base64DataAfterPaddingDefect(MessageDefect):
    """Base64 data after the closing padding; ignored, as the standard library does."""


class UnknownTransferEncodingDefect(MessageDefect):
    """A Content-Transfer-Encoding this package does not know; the body was copied undecoded."""


class UndecodableUuencodeLineDefect(MessageDefect):
    """A uuencoded line that could not be decoded; it was skipped."""


class AttachedMessageWriteDefect(MessageDefect):
    """An attached message could not be serialized completely; what came before the error was written."""
