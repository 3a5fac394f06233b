"""Device mails for the relay's tests: a text part with the recipients line, and an attachment if asked."""

from __future__ import annotations


def device_mail(
    recipients: str, *, extra_headers: str = "", body_extra: str = "", attachment: bool = True
) -> bytes:
    parts = [
        "From: sensor-gw@iot.example.com",
        "To: relay@ingest.example.com",
        "Subject: Readings",
        *([extra_headers] if extra_headers else []),  # an empty line here would end the header block
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b1"',
        "",
        "--b1",
        "Content-Type: text/plain",
        "",
        "Hourly readings.",
        f"Email_Rxers_Code:[{recipients}]:Email_Rxers_Code:",
        body_extra,
        "",
    ]
    if attachment:
        parts += [
            "--b1",
            'Content-Type: text/csv; name="r.csv"',
            "Content-Transfer-Encoding: base64",
            'Content-Disposition: attachment; filename="r.csv"',
            "",
            "YSxiCjEsMgo=",
        ]
    parts.append("--b1--")
    return (
        "\r\n".join(line for line in parts if line is not None).replace("\r\n\r\n\r\n", "\r\n\r\n").encode()
    )
