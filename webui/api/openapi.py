"""The OpenAPI 3.1 description of the resellers' API (served at ``/api/v1/openapi.json``)."""

from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": {"$ref": "#/components/responses/BadInput"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "404": {"$ref": "#/components/responses/NotFound"},
    "409": {"$ref": "#/components/responses/Conflict"},
}


def _op(summary: str, ok: dict[str, Any], *, body: str | None = None,
        params: list | None = None, status: str = "200") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {status: ok, **ERRORS}}
    if body:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": _ref(body)}}}
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def spec(server_url: str) -> dict[str, Any]:
    change = {"type": "object", "properties": {
        "commit": {"type": "string", "description": "inventory commit of the change"},
        "job": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
            "id": {"type": "integer"}, "url": {"type": "string"}}}],
            "description": "the job that applies the change on the servers"},
        "job_error": {"type": "string", "description": "saved but not queued (why)"}}}
    plan_id = _path_param("plan_id", "plan id")
    tenant_id = _path_param("customer_id", "customer (tenant) id = login ID")
    return {
        "openapi": "3.1.0",
        "info": {"title": "oemhost reseller API", "version": "1.0.0",
                 "description": "Plans and customers of one reseller, for its billing "
                                "system. Every change is validated against the plan and "
                                "reseller limits, recorded in the inventory and applied "
                                "by a job whose state `GET /jobs/{id}` shows."},
        "servers": [{"url": server_url}],
        "security": [{"token": []}],
        "paths": {
            "/plans": {
                "get": _op("List your plans", _json({"type": "object", "properties": {
                    "items": {"type": "array", "items": _ref("Plan")}}})),
                "post": _op("Create a plan", _json({"allOf": [change, {
                    "type": "object", "properties": {"plan": _ref("Plan")}}]}, "Created"),
                    body="PlanInput", status="201"),
            },
            "/plans/{plan_id}": {
                "get": _op("One plan", _json({"type": "object", "properties": {
                    "plan": _ref("Plan")}}), params=[plan_id]),
                "patch": _op("Change a plan (every customer on it must still fit)",
                             _json({"allOf": [change, {"type": "object", "properties": {
                                 "plan": _ref("Plan")}}]}), body="PlanChange",
                             params=[plan_id]),
                "delete": _op("Delete a plan (409 while customers use it)", _json(change),
                              params=[plan_id]),
            },
            "/customers": {
                "get": _op("List your customers (search, sort, page)", _json({
                    "type": "object", "properties": {
                        "total": {"type": "integer"}, "offset": {"type": "integer"},
                        "limit": {"type": "integer"},
                        "items": {"type": "array", "items": _ref("CustomerSummary")}}}),
                    params=[_query("q", {"type": "string"}, "search id, contractor, "
                                   "customer number, e-mail, domains"),
                            _query("status", {"enum": ["active", "suspended", "removed"]},
                                   "only this status"),
                            _query("sort", {"type": "string", "default": "id"},
                                   "id, contractor, customer_number, contract_date, "
                                   "start_date, status, plan; '-' prefix: descending"),
                            _query("offset", {"type": "integer", "default": 0}, "skip"),
                            _query("limit", {"type": "integer", "default": 100,
                                             "maximum": 1000}, "page size")]),
                "post": _op("Create a customer (and its panel login)", _json({
                    "allOf": [change, {"type": "object", "properties": {
                        "customer": _ref("Customer"), "login_url": {"type": "string"},
                        "password": {"type": "string", "description":
                                     "only when generated (no password sent); shown once"}}}
                    ]}, "Created"), body="CustomerInput", status="201"),
            },
            "/customers/{customer_id}": {
                "get": _op("One customer", _json({"type": "object", "properties": {
                    "customer": _ref("Customer")}}), params=[tenant_id]),
                "patch": _op("Change a customer", _json({"allOf": [change, {
                    "type": "object", "properties": {"customer": _ref("Customer")}}]}),
                    body="CustomerChange", params=[tenant_id]),
                "delete": _op("Delete a customer (its data on the server is removed by "
                              "the job)", _json(change), params=[tenant_id]),
            },
            "/customers/{customer_id}/suspend": {
                "post": _op("Suspend a customer (sites and mail stop)", _json(change),
                            body="Reason", params=[tenant_id])},
            "/customers/{customer_id}/unsuspend": {
                "post": _op("Unsuspend a customer", _json(change), body="Reason",
                            params=[tenant_id])},
            "/customers/{customer_id}/panel-password": {
                "post": _op("Give the customer's panel login a new password (issued if "
                            "missing)", _json({"type": "object", "properties": {
                                "login": {"type": "string"}, "password": {"type": "string"},
                                "login_url": {"type": "string"}}}), params=[tenant_id])},
            "/jobs/{job_id}": {
                "get": _op("State of a job applying one of your changes", _json(_ref("Job")),
                           params=[_path_param("job_id", "job id")])},
        },
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer",
                                          "description": "a token from the reseller panel "
                                                         "(Settings → API tokens)"}},
            "responses": {
                "BadInput": _json(_ref("Error"), "Bad input; `fields` says what, per field"),
                "Unauthorized": _json(_ref("Error"), "No or bad token"),
                "Forbidden": _json(_ref("Error"), "Reseller suspended"),
                "NotFound": _json(_ref("Error"), "Not found (or not yours)"),
                "Conflict": _json(_ref("Error"), "Exists already, in use, or changed "
                                                 "since you read it (stale version)"),
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}}}},
                "PlanInput": {"type": "object", "required": ["id", "name"],
                              "additionalProperties": False, "properties": {
                    "id": {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,30}$"},
                    "name": {"type": "string", "maxLength": 200},
                    "disk_mb": {"type": "integer", "minimum": 0},
                    "default_web_mb": {"type": "integer", "minimum": 0},
                    "max_domains": {"type": "integer", "minimum": 0},
                    "max_mailboxes": {"type": "integer", "minimum": 0},
                    "max_mailbox_mb": {"type": "integer", "minimum": 0},
                    "max_ftp_accounts": {"type": "integer", "minimum": 0},
                    "max_databases": {"type": "object", "properties": {
                        "mariadb": {"type": "integer"}, "postgresql": {"type": "integer"}}},
                    "dns": {"type": "boolean"}, "ssh": {"type": "boolean"},
                    "mail": {"type": "boolean"}, "ftps_required": {"type": "boolean"},
                    "mail_limits": {"type": "object", "properties": {
                        "per_hour": {"type": "integer"}, "per_day": {"type": "integer"}}}}},
                "PlanChange": {"type": "object", "description": "any PlanInput field but "
                               "id; `version` (from GET) makes the change conditional",
                               "properties": {"version": {"type": "string"}}},
                "Plan": {"allOf": [_ref("PlanInput"), {"type": "object", "properties": {
                    "reseller": {"type": "string"}, "version": {"type": "string"}}}]},
                "CustomerInput": {"type": "object", "required": ["id", "plan", "contractor",
                                                                 "contact_email"],
                                  "properties": {
                    "id": {"type": "string", "pattern": "^[a-z][a-z0-9]{2,15}$",
                           "description": "login ID, server user name"},
                    "password": {"type": "string", "minLength": 10, "maxLength": 128,
                                 "description": "server and panel password; generated and "
                                                "returned once when left out"},
                    "panel_login": {"type": "boolean", "default": True},
                    "plan": {"type": "string"},
                    "contractor": {"type": "string", "maxLength": 200},
                    "customer_number": {"type": ["string", "null"]},
                    "contact_email": {"type": "string", "format": "email"},
                    "contract_date": {"type": "string", "format": "date"},
                    "start_date": {"type": "string", "format": "date"},
                    "domains": {"type": "array", "items": {"type": "string"}}}},
                "CustomerChange": {"type": "object", "properties": {
                    "plan": {"type": "string"}, "contractor": {"type": "string"},
                    "customer_number": {"type": ["string", "null"]},
                    "contact_email": {"type": "string"},
                    "contract_date": {"type": "string", "format": "date"},
                    "start_date": {"type": "string", "format": "date"},
                    "version": {"type": "string"}}},
                "Reason": {"type": "object", "properties": {"reason": {"type": "string"}}},
                "CustomerSummary": {"type": "object", "properties": {
                    "id": {"type": "string"}, "plan": {"type": "string"},
                    "node": {"type": "string"},
                    "status": {"enum": ["active", "suspended", "removed"]},
                    "contractor": {"type": "string"},
                    "customer_number": {"type": ["string", "null"]},
                    "contact_email": {"type": "string"},
                    "contract_date": {"type": "string"}, "start_date": {"type": "string"},
                    "disk": {"type": "object", "properties": {
                        "web_mb": {"type": "integer"}, "mail_mb": {"type": "integer"}}},
                    "domains": {"type": "array", "items": {"type": "string"}},
                    "mailboxes": {"type": "integer"}, "ftp_accounts": {"type": "integer"},
                    "databases": {"type": "integer"}, "version": {"type": "string"}}},
                "Customer": {"allOf": [_ref("CustomerSummary"), {"type": "object",
                                                                 "properties": {
                    "status_reason": {"type": "string"}, "ssh": {"type": "boolean"}}}]},
                "Job": {"type": "object", "properties": {
                    "id": {"type": "integer"},
                    "status": {"enum": ["queued", "running", "succeeded", "failed",
                                        "cancelled"]},
                    "kind": {"type": "string"}, "nodes": {"type": "array"},
                    "customers": {"type": "array"}, "requested_by": {"type": "string"},
                    "created_at": {"type": "string"}, "finished_at": {"type": ["string",
                                                                              "null"]},
                    "result": {"type": ["string", "null"]}}},
            },
        },
    }
