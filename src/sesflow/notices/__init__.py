"""The notices flows: provider maintenance mail in (`inbound`: sender → parser → NetBox maintenances, impacts
and event notifications), and NetBox's notifications out to customers (`outbound`, `tracking`)."""
