"""E-mail: optional, off unless an SMTP server (or the demo's outbox) is configured.

- ``messages``: a message as plain text and HTML from templates/email/, branded, with a clear
  sender (and ``List-Unsubscribe`` where the caller asks for one).
- ``transport``: handing one message to the SMTP server, or to ``<data_dir>/outbox``.
- ``outgoing``: the ``outgoing_mail`` rows and the queue's tasks that send them: each message
  once (its idempotency key and a claim), with retries and back-off, refusals counted.

Who is written to and why (invitations, reminders, account links) lives in the domains.
"""
