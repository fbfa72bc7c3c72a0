"""Rotation drivers: `base` (the Protocol), `manual`, `openai_admin`, `aws_iam`."""
