"""The one registry of rotation drivers; its keys are the catalog's allowed names.

Values are import paths so that validating a catalog never imports boto3 or httpx
drivers; `load_driver` imports the one that is needed.
"""

from __future__ import annotations

import importlib
from typing import Any

DRIVERS: dict[str, str] = {
    "manual": "aigw.rotation.drivers.manual:ManualDriver",
    "openai-admin": "aigw.rotation.drivers.openai_admin:OpenAIAdminDriver",
    "aws-iam": "aigw.rotation.drivers.aws_iam:AwsIamDriver",
    "anthropic-admin": "aigw.rotation.drivers.anthropic_admin:AnthropicAdminDriver",
}


def load_driver_class(name: str) -> Any:
    """Import and return the driver class registered under NAME."""
    module, _, attr = DRIVERS[name].partition(":")
    return getattr(importlib.import_module(module), attr)
