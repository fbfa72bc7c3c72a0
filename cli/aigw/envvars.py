"""Every environment variable aigw reads or sets, named once.

Pairs list the OpenBao name first and the Vault name second: OpenBao's CLI reads
`BAO_*` and falls back to `VAULT_*`, and so does aigw. Only `aigw.context` reads
the settings ones from the environment (once per command); the others are read
where the tool they configure is found (`aigw.tools`) or passed on to a process
aigw starts. Standard library only: imported on the start-up path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# OpenBao/Vault client settings, as `bao` and `vault` define them.
ADDR = ("BAO_ADDR", "VAULT_ADDR")
TOKEN = ("BAO_TOKEN", "VAULT_TOKEN")
CACERT = ("BAO_CACERT", "VAULT_CACERT")  # a PEM file of CA certificates
CAPATH = ("BAO_CAPATH", "VAULT_CAPATH")  # a folder of PEM CA certificates
SKIP_VERIFY = ("BAO_SKIP_VERIFY", "VAULT_SKIP_VERIFY")  # a boolean: do not verify TLS
# requests' own CA bundle variables, honoured after the two above (as before).
REQUESTS_CA = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
# Set for `bao server -dev` only; never inherited by one aigw starts.
DEV_ROOT_TOKEN = "BAO_DEV_ROOT_TOKEN_ID"
DEV_SCRUBBED = (*TOKEN, "VAULT_DEV_ROOT_TOKEN_ID", "BAO_DEV_LISTEN_ADDRESS",
                "VAULT_DEV_LISTEN_ADDRESS")

# aigw's own.
HOME = "AIGW_HOME"  # the project folder holding .aigw/
CACHE = "AIGW_CACHE"  # where built tools are cached (default ~/.cache/aigw)
EVAL_KEYS = "AIGW_EVAL_KEYS"  # `aigw eval --keys`: a folder of <provider>.eval.key files
# Rotation timing (seconds or `10m`): RotateOptions field -> variable (docs/rotation.md).
ROTATE_TIMING = {"quiet": "AIGW_ROTATE_QUIET", "poll": "AIGW_ROTATE_POLL",
                 "lock_ttl": "AIGW_ROTATE_LOCK_TTL"}
# Admin keys that read the providers' usage reports (`aigw usage`), unless the provider's
# rotation params name another variable (`admin_key_env`); never read from argv.
OPENAI_ADMIN_KEY = "OPENAI_ADMIN_KEY"  # also the openai-admin driver's default
ANTHROPIC_ADMIN_KEY = "ANTHROPIC_ADMIN_KEY"
# The Prometheus whose HTTP API has the runtime's metrics (`aigw usage`, for providers
# without a usage report): its root URL, e.g. http://prometheus:9090.
PROMETHEUS_URL = "AIGW_PROMETHEUS_URL"
AWS_ENDPOINT_URL = "AIGW_AWS_ENDPOINT_URL"  # the aws-iam driver's endpoint (moto in tests)
PULUMI_SDK_DEBUG = "AIGW_PULUMI_SDK_DEBUG"  # 1: run the Pulumi SDK without aigw's patches
TEST_CRASH_AT = "AIGW_TEST_CRASH_AT"  # test hook: SIGKILL at these rotation points
# 1: every layer runs its plain public-API path instead of its speed tricks (aigw.fastpath).
NO_FASTPATH = "AIGW_NO_FASTPATH"

# The Pulumi engine.
PULUMI_BACKEND_URL = "PULUMI_BACKEND_URL"
PULUMI_PASSPHRASE = "PULUMI_CONFIG_PASSPHRASE"
PULUMI_PASSPHRASE_FILE = "PULUMI_CONFIG_PASSPHRASE_FILE"


def first(env: Mapping[str, str], names: Sequence[str]) -> str | None:
    """The value of the first of NAMES set (non-empty) in ENV, else None."""
    return next((env[n] for n in names if env.get(n)), None)


def first_name(env: Mapping[str, str], names: Sequence[str]) -> str | None:
    """The first of NAMES set (non-empty) in ENV, else None (for messages)."""
    return next((n for n in names if env.get(n)), None)
