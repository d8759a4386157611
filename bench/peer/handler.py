"""PEER BASELINE for `make bench` -- not part of the service.

The same two operations as our `link-customer` and `customer-partner-programs` Lambdas, written
the way most teams would: a Python 3 handler on boto3, run with `python -m awslambdaric` under the
same Runtime API emulator, against the same DynamoDB Local table and the same org, programs and
customers. It makes the same DynamoDB calls as our code does today, one after another:

  link:  GetItem identifier -> GetItem profile -> GetItem linkage -> TransactWriteItems
         (linkage put conditioned on its version, activity, outbox event, enrolment check,
         membership-id claim), writing items with the same keys and attributes;
  read:  GetItem identifier -> GetItem profile -> Query the customer's linkages.

Both cache the org's partner programs per container (30 s), as our functions do. Validation is
the minimum these requests need; error paths answer with Capillary's codes where they matter here.
"""

import hashlib
import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

TABLE = os.environ["TABLE_NAME"]
DUE_SHARDS = int(os.environ.get("DUE_SHARDS", "8"))
CACHE_SECONDS = 30

dynamodb = boto3.client("dynamodb")
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_catalog = {}


def _item(record):
    return {k: _serializer.serialize(v) for k, v in record.items() if v is not None}


def _plain(item):
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def _key(pk, sk):
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def _json_response(status, body):
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def _org(event):
    return int(event["requestContext"]["authorizer"]["lambda"]["orgId"])


def _utc(t):
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _display(t):
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _programs(org):
    cached = _catalog.get(org)
    if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    resp = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues={":pk": {"S": f"ORG#{org}"}, ":prefix": {"S": "PP#"}},
    )
    programs = {p["partnerProgramName"]: p for p in map(_plain, resp.get("Items", []))}
    _catalog[org] = (time.monotonic(), programs)
    return programs


def _customer(org, identifiers):
    if identifiers.get("id"):
        customer_id = int(identifiers["id"])
    else:
        for kind in ("mobile", "email", "externalId"):
            value = identifiers.get(kind)
            if value:
                break
        else:
            return None
        value = str(value)
        if kind == "mobile":
            value = "".join(ch for ch in value if ch.isdigit())
        elif kind == "email":
            value = value.strip().lower()
        found = dynamodb.get_item(TableName=TABLE, Key=_key(f"ORG#{org}#IDENT#{kind}#{value}", "IDENT"))
        if "Item" not in found:
            return None
        customer_id = int(found["Item"]["customerId"]["N"])
    profile = dynamodb.get_item(TableName=TABLE, Key=_key(f"ORG#{org}#CUST#{customer_id}", "PROFILE"))
    return _plain(profile["Item"]) if "Item" in profile else None


def _status(ok, code, message):
    return {"status": ok, "code": code, "message": message}


def _due_keys(at, org, customer_id, program_id):
    digest = hashlib.sha256(f"{org}#{customer_id}".encode()).digest()
    shard = int.from_bytes(digest[:4], "big") % DUE_SHARDS
    return f"DUE#{at.strftime('%Y-%m-%d')}#{shard:03}", f"{_utc(at)}#{org}#{customer_id}#{program_id}"


def _link_one(org, customer, entry, programs, now):
    name = (entry.get("partnerProgramName") or "").strip()
    program = programs.get(name)
    if program is None:
        return _status(False, 2006, "Partner program does not exist")
    program_id = int(program["partnerProgramId"])
    loyalty_program = str(int(program["loyaltyProgramId"]))
    customer_id = int(customer["customerId"])
    if loyalty_program not in customer.get("enrollments", {}):
        return _status(False, 2005, "Customer is not enrolled in the loyalty program")
    reference = entry.get("customerPartnerReference") or {}
    tier = None
    expiry = None
    if program.get("tierBased"):
        wanted = (reference.get("partnerTierName") or "").strip().lower()
        tier = next((t for t in program.get("tiers", []) if t["tierName"].lower() == wanted), None)
        if tier is None:
            return _status(False, 2007, "Partner tier does not exist")
        if reference.get("partnerTierExpiryDate"):
            expiry = datetime.fromisoformat(reference["partnerTierExpiryDate"]).astimezone(timezone.utc)
            if expiry <= now:
                return _status(False, 2003, "Partner tier expiry date is in the past")
    membership_id = reference.get("partnerMembershipId")
    membership_id = str(membership_id) if membership_id is not None else None

    link_key = _key(f"ORG#{org}#CUST#{customer_id}", f"LINK#{program_id:010}")
    current = dynamodb.get_item(TableName=TABLE, Key=link_key).get("Item")
    current = _plain(current) if current else None
    if current and current.get("linked"):
        return _status(False, 2001, "Customer is already linked to this partner program")

    version = int(current["version"]) + 1 if current else 1
    linkage = {
        "PK": link_key["PK"]["S"],
        "SK": link_key["SK"]["S"],
        "entity": "LINKAGE",
        "PROG_PK": f"ORG#{org}#PP#{program_id}",
        "PROG_SK": f"CUST#{customer_id:012}",
        "orgId": org,
        "customerId": customer_id,
        "partnerProgramId": program_id,
        "partnerProgramName": name,
        "partnerProgramType": program["partnerProgramType"],
        "partnerMembershipId": membership_id,
        "tierNumber": int(tier["tierNumber"]) if tier else None,
        "tierName": tier["tierName"] if tier else None,
        "tierExpiryDate": _utc(expiry) if expiry else None,
        "membershipStartDate": _utc(now),
        "status": "ACTIVE",
        "linked": True,
        "version": version,
        "lastActivity": "ENROLLMENT",
        "lastUpdated": _utc(now),
        "benefitCounters": {},
    }
    if expiry:
        linkage["DUE_PK"], linkage["DUE_SK"] = _due_keys(expiry, org, customer_id, program_id)
    activity_id = str(uuid.uuid4())
    activity = {
        "PK": f"ORG#{org}#CUST#{customer_id}",
        "SK": f"HIST#{program_id:010}#L#{_utc(now)}#{activity_id}",
        "entity": "ACTIVITY",
        "activityId": activity_id,
        "orgId": org,
        "customerId": customer_id,
        "partnerProgramId": program_id,
        "partnerProgramName": name,
        "activityType": "ENROLLMENT",
        "activityDate": _utc(now),
        "tierName": linkage["tierName"],
        "tierExpiryDate": linkage["tierExpiryDate"],
    }
    event_id = str(uuid.uuid4())
    identifiers = {"id": customer_id}
    for k in ("mobile", "email", "externalId"):
        if customer.get(k):
            identifiers[k] = customer[k]
    payload = {
        "eventName": "partnerProgramLinked",
        "eventId": event_id,
        "orgId": org,
        "refId": str(customer_id),
        "createdAt": _display(now),
        "data": {
            "customerIdentifiers": identifiers,
            "partnerProgramName": name,
            "updateType": "LINK",
            "partnerProgramDetails": {
                "partnerMembershipId": membership_id,
                "partnerTierNumber": linkage["tierNumber"],
                "partnerTierName": linkage["tierName"],
                "partnerTierExpiryDate": _display(expiry) if expiry else None,
                "membershipStartDate": _display(now),
                "linked": True,
                "status": "ACTIVE",
                "version": version,
            },
        },
    }
    event = {
        "PK": f"ORG#{org}#EVT#{event_id}",
        "SK": "EVT",
        "entity": "EVENT",
        "eventName": "partnerProgramLinked",
        "eventId": event_id,
        "orgId": org,
        "refId": str(customer_id),
        "createdAt": _display(now),
        "payload": json.dumps(payload),
        "ttl": int((now + timedelta(days=7)).timestamp()),
    }
    linkage_put = {"TableName": TABLE, "Item": _item(linkage)}
    if current:
        linkage_put["ConditionExpression"] = "version = :expected"
        linkage_put["ExpressionAttributeValues"] = {":expected": {"N": str(current["version"])}}
    else:
        linkage_put["ConditionExpression"] = "attribute_not_exists(PK)"
    items = [
        {"Put": linkage_put},
        {"Put": {"TableName": TABLE, "Item": _item(activity), "ConditionExpression": "attribute_not_exists(PK)"}},
        {"Put": {"TableName": TABLE, "Item": _item(event), "ConditionExpression": "attribute_not_exists(PK)"}},
        {
            "ConditionCheck": {
                "TableName": TABLE,
                "Key": _key(f"ORG#{org}#CUST#{customer_id}", "PROFILE"),
                "ConditionExpression": "attribute_exists(enrollments.#lp)",
                "ExpressionAttributeNames": {"#lp": loyalty_program},
            }
        },
    ]
    if membership_id:
        claim = {
            "PK": f"ORG#{org}#PP#{program_id}#MID#{membership_id}",
            "SK": "MID",
            "entity": "MEMBERSHIP_ID",
            "customerId": customer_id,
        }
        items.append(
            {
                "Put": {
                    "TableName": TABLE,
                    "Item": _item(claim),
                    "ConditionExpression": "attribute_not_exists(PK) OR customerId = :cid",
                    "ExpressionAttributeValues": {":cid": {"N": str(customer_id)}},
                }
            }
        )
    try:
        dynamodb.transact_write_items(TransactItems=items)
    except dynamodb.exceptions.TransactionCanceledException:
        return _status(False, 2010, "The change conflicted with another; retry")
    return _status(True, 200, "Success")


def link_customer(event, context):
    """POST /v2/partnerProgram/linkCustomer"""
    org = _org(event)
    try:
        body = json.loads(event.get("body") or "")
    except ValueError:
        return _json_response(400, {"errors": [{"code": 400, "message": "Invalid JSON"}]})
    customers = body.get("linkCustomers") or []
    if not customers or len(customers) > 50:
        return _json_response(400, {"errors": [{"code": 400, "message": "linkCustomers must hold 1 to 50 customers"}]})
    programs = _programs(org)
    now = datetime.now(timezone.utc)
    results = []
    all_ok = True
    for entry in customers:
        identifiers = entry.get("customer") or {}
        customer = _customer(org, identifiers)
        echo = dict(identifiers)
        links = [dict(link) for link in entry.get("linkToPartnerPrograms") or []]
        if customer is None:
            echo["status"] = _status(False, 8015, "Customer not found")
            all_ok = False
        else:
            echo["status"] = _status(True, 1000, "Customer successfully retrieved")
            for link in links:
                link["partnerLinkStatus"] = _link_one(org, customer, link, programs, now)
                all_ok = all_ok and link["partnerLinkStatus"]["status"]
        results.append({"customer": echo, "linkToPartnerPrograms": links})
    return _json_response(200 if all_ok else 201, {"linkCustomers": results, "warnings": []})


def customer_partner_programs(event, context):
    """GET /v2/partnerProgram/customerPartnerPrograms"""
    org = _org(event)
    query = event.get("queryStringParameters") or {}
    name, value = query.get("identifierName"), query.get("identifierValue")
    if not name or not value:
        return _json_response(400, {"errors": [{"code": 400, "message": "identifierName and identifierValue are required"}]})
    customer = _customer(org, {name: value})
    if customer is None:
        return _json_response(200, {"linkedPartnerPrograms": [], "warnings": [], "errors": [_status(False, 8015, "Customer not found")]})
    customer_id = int(customer["customerId"])
    resp = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues={":pk": {"S": f"ORG#{org}#CUST#{customer_id}"}, ":prefix": {"S": "LINK#"}},
    )
    by_id = {int(p["partnerProgramId"]): p for p in _programs(org).values()}
    linked = sorted((l for l in map(_plain, resp.get("Items", [])) if l.get("linked")), key=lambda l: int(l["partnerProgramId"]))
    programs = []
    for l in linked:
        program = by_id.get(int(l["partnerProgramId"]), {})
        programs.append(
            {
                "partnerProgramId": int(l["partnerProgramId"]),
                "partnerProgramName": l["partnerProgramName"],
                "partnerProgramType": l["partnerProgramType"],
                "description": program.get("description", ""),
                "tierBased": bool(program.get("tierBased")),
                "partnerMembershipId": l.get("partnerMembershipId"),
                "partnerTierNumber": int(l["tierNumber"]) if l.get("tierNumber") is not None else None,
                "partnerTierName": l.get("tierName"),
                "partnerTierExpiryDate": l.get("tierExpiryDate"),
                "membershipStartDate": l.get("membershipStartDate"),
                "membershipEndDate": l.get("membershipEndDate"),
                "linked": True,
                "status": l.get("status"),
                "lastUpdatedActivity": l.get("lastActivity"),
                "lastUpdatedDate": l.get("lastUpdated"),
            }
        )
    identifiers = {"id": customer_id}
    for k in ("mobile", "email", "externalId"):
        if customer.get(k):
            identifiers[k] = customer[k]
    return _json_response(200, {"customer": identifiers, "linkedPartnerPrograms": programs, "warnings": [], "errors": []})
