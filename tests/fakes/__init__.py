"""In-memory stand-ins for the ports the flows call (netbox-notices, the object store, SES, SNS, the send
marks, the tracking ledger, the outbound claims), each held to its real adapter by the same tests in
tests/contracts/."""
