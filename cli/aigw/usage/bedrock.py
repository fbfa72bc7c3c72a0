"""Bedrock spend per slot from AWS Cost Explorer, by the calling IAM principal's tag.

What AWS reports, and what of it aigw reads (docs/spend.md#bedrock):

- CloudWatch's `AWS/Bedrock` metrics (InputTokenCount, OutputTokenCount,
  Invocations) are per model id, never per caller: not attributable.
- Bedrock records the IAM principal (user or role) of every `bedrock-runtime`
  inference call. CUR 2.0 carries its ARN (`line_item_iam_principal`); Cost
  Explorer cannot group by the ARN, only by the principal's **tags** once the
  payer account has activated them as cost allocation tags, where they appear as
  `iamPrincipal/<key>`.

So each slot's IAM user carries a tag (say `aigw-slot`) = the slot's id in its
environment (`prod/bedrock/svc-support-bot`), the payer account activated it
(`iamPrincipal/aigw-slot`), the catalog names it (`rotation.params.cost_tag`), and
`GetCostAndUsage` (daily, service "Amazon Bedrock", grouped by
that tag and the usage type, every `NextPageToken` page) gives what AWS billed
each slot: the bill itself, in its currency, not usage x catalog price (Cost
Explorer's usage quantities of Bedrock are not token classes aigw prices), so
Bedrock has no drift line and no token counts. Cost with no tag value (a
principal without the tag, or before activation) is "(unknown key)".
Credentials and the endpoint come from boto3's own chain (`AWS_*`,
`AWS_ENDPOINT_URL`, a profile, a role), never from argv.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from aigw.errors import UsageError
from aigw.usage.sources import MAX_PAGES, CostRow, ReportError, Source, UsageRow

SERVICE = "Amazon Bedrock"
METRIC = "UnblendedCost"


def cost_explorer(region: str = "us-east-1") -> Any:
    """A boto3 Cost Explorer client (its API is served from us-east-1), from a fresh
    session: boto3's default one keeps the credentials it saw first."""
    import boto3  # imported here: most runs of aigw never need boto3

    return boto3.session.Session().client("ce", region_name=region)


def _query(tag: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    return {"TimePeriod": {"Start": start.date().isoformat(), "End": end.date().isoformat()},
            "Granularity": "DAILY", "Metrics": [METRIC],
            "Filter": {"Dimensions": {"Key": "SERVICE", "Values": [SERVICE]}},
            "GroupBy": [{"Type": "TAG", "Key": tag}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}]}


def _amount(value: Any, provider: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ReportError(f"{provider}: Cost Explorer answered a non-numeric amount") from None


def bedrock_reports(source: Source, start: dt.datetime, end: dt.datetime, *,
                    ce: Any = None) -> tuple[list[UsageRow], list[CostRow]]:
    """What AWS billed each tagged principal for Bedrock, per day and usage type."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    name, tag = source.provider, source.tag
    query = _query(tag, start, end)
    rows: list[UsageRow] = []
    token: str | None = None
    try:
        ce = ce or cost_explorer()
        for _ in range(MAX_PAGES):
            page = ce.get_cost_and_usage(**query, **({"NextPageToken": token} if token else {}))
            for day in page.get("ResultsByTime") or []:
                when = str((day.get("TimePeriod") or {}).get("Start", ""))[:10]
                for group in day.get("Groups") or []:
                    keys = [str(k) for k in group.get("Keys") or []] + ["", ""]
                    value = keys[0].partition("$")[2]  # "iamPrincipal/aigw-slot$<value>"
                    money = (group.get("Metrics") or {}).get(METRIC) or {}
                    rows.append(UsageRow(when, name, value or None, None, keys[1] or "?",
                                         billed=_amount(money.get("Amount", "0"), name),
                                         currency=str(money.get("Unit") or "USD").upper()))
            token = page.get("NextPageToken")
            if not token:
                return rows, []
    except NoCredentialsError:
        raise UsageError(f"{name}: no AWS credentials to read Cost Explorer",
                         hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                         "(never on argv); the principal needs ce:GetCostAndUsage") from None
    except ClientError as exc:
        err = exc.response.get("Error") or {}
        raise ReportError(f"{name}: Cost Explorer GetCostAndUsage failed: "
                          f"{err.get('Code', 'error')}",
                          hint="the principal needs ce:GetCostAndUsage" if "Denied" in
                          str(err.get("Code")) else None) from None
    except BotoCoreError as exc:
        raise ReportError(f"{name}: cannot reach Cost Explorer ({type(exc).__name__})") from None
    raise ReportError(f"{name}: Cost Explorer has more than {MAX_PAGES} pages",
                      hint="use a shorter --since")
