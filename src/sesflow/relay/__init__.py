"""The relay: IoT mail stored by SES → attachments offloaded behind expiring links → the listed recipients.

`distribute` holds the pipeline and its Lambda handler; each other module is one of its steps.
"""
