"""The notices flows: provider maintenance mail in (sender → parser → NetBox maintenances, impacts and
event notifications), and the typed edge over circuit-maintenance-parser they share."""
