"""The relay: IoT mail stored by SES → attachments offloaded behind expiring links → the listed recipients.

`distribute` holds the pipeline, its steps in order, and the Lambda handler; `wiring` connects it to AWS
through the protocols in `ports`. Each step's work lives in its own module (`gate`, `recipients`, `offload`,
`links`, `compose`, `send`, `report`); `dlq` and `revoke` are the operator's tools.
"""
