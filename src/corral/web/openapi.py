"""The OpenAPI 3 document of the JSON API (served at ``/api/v1/openapi.json``).

Written by hand next to `api`, whose routes it describes one for one; the test suite checks
that the two agree and fuzzes the server from this document.
"""

from .. import __version__

_ERROR = {"$ref": "#/components/responses/Error"}
_JOB_ID = {"name": "id", "in": "path", "required": True, "description": "A job id",
           "schema": {"type": "integer", "minimum": 1}}


def _json(schema_name: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{schema_name}"}}}}


def _operation(summary, response, description_200="OK", parameters=(), body=None,
               status="200", **extra) -> dict:
    operation = {"summary": summary, "parameters": list(parameters),
                 "responses": {status: _json(response, description_200), "default": _ERROR}}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{body}"}}}}
    operation.update(extra)
    return operation


_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"],
              "properties": {"error": {"type": "string", "description": "What went wrong, "
                                                                         "in one sentence"}}},
    "WhoAmI": {"type": "object", "required": ["userid", "owner"],
               "properties": {"userid": {"type": "integer"}, "owner": {"type": "boolean"}}},
    "Job": {"type": "object", "required": ["id", "userid", "state", "state_name"],
            "description": "A job's summary, as 'corral jobs' reads it",
            "properties": {
                "id": {"type": "integer"}, "userid": {"type": "integer"},
                "state": {"type": "integer", "description": "RFC 21 state bit"},
                "state_name": {"type": "string",
                               "enum": ["NEW", "DEPEND", "PRIORITY", "SCHED", "RUN", "CLEANUP",
                                        "INACTIVE"]},
                "result_name": {"type": "string", "nullable": True,
                                "enum": ["COMPLETED", "FAILED", "CANCELED", "TIMEOUT", None]},
                "name": {"type": "string", "nullable": True},
                "queue": {"type": "string", "nullable": True},
                "urgency": {"type": "integer"},
                "priority": {"type": "integer", "nullable": True},
                "t_submit": {"type": "number"}, "t_run": {"type": "number", "nullable": True},
                "t_inactive": {"type": "number", "nullable": True},
            }, "additionalProperties": True},
    "JobPage": {"type": "object", "required": ["jobs", "offset", "limit", "next_offset"],
                "properties": {
                    "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
                    "offset": {"type": "integer"}, "limit": {"type": "integer"},
                    "next_offset": {"type": "integer", "nullable": True,
                                    "description": "The offset of the next page, or null"}}},
    "Event": {"type": "object", "required": ["timestamp", "name"],
              "description": "One RFC 18 eventlog entry",
              "properties": {"timestamp": {"type": "number"}, "name": {"type": "string"},
                             "context": {"type": "object", "additionalProperties": True}}},
    "Eventlog": {"type": "object", "required": ["events"],
                 "properties": {"events": {"type": "array",
                                           "items": {"$ref": "#/components/schemas/Event"}}}},
    "Output": {"type": "object", "required": ["stdout", "stderr"],
               "properties": {"stdout": {"type": "string"}, "stderr": {"type": "string"}}},
    "Submit": {"type": "object", "description": "Either an RFC 25 jobspec (with an urgency) "
                                                "or a batch script with sbatch options",
               "properties": {
                   "jobspec": {"type": "object", "additionalProperties": True},
                   "urgency": {"type": "integer", "minimum": 0, "maximum": 31},
                   "sbatch": {"type": "object", "required": ["script", "cwd"], "properties": {
                       "script": {"type": "string", "description": "starts with #!; #SBATCH "
                                                                   "directives are read"},
                       "options": {"type": "array", "items": {"type": "string"},
                                   "description": "sbatch's command-line options"},
                       "cwd": {"type": "string", "description": "absolute submit directory"},
                       "environment": _STRING_MAP}}}},
    "Submitted": {"type": "object", "required": ["id", "ids"],
                  "properties": {"id": {"type": "integer"},
                                 "ids": {"type": "array", "items": {"type": "integer"},
                                         "description": "every job (an array's tasks)"}}},
    "Cancel": {"type": "object", "properties": {"message": {"type": "string"}}},
    "Canceled": {"type": "object", "required": ["id"],
                 "properties": {"id": {"type": "integer"}}},
    "Update": {"type": "object", "required": ["urgency"], "additionalProperties": False,
               "properties": {"urgency": {"type": "integer", "minimum": 0, "maximum": 31}}},
    "Updated": {"type": "object", "required": ["id", "urgency", "old_urgency"],
                "properties": {"id": {"type": "integer"}, "urgency": {"type": "integer"},
                               "old_urgency": {"type": "integer"}}},
    "Nodes": {"type": "object", "required": ["nodes"], "properties": {"nodes": {
        "type": "array", "items": {"type": "object", "required": [
            "rank", "name", "ncores", "free_cores", "ngpus", "free_gpus", "drained"],
            "properties": {
                "rank": {"type": "integer"}, "name": {"type": "string"},
                "cores": {"type": "string"}, "gpus": {"type": "string"},
                "ncores": {"type": "integer"}, "free_cores": {"type": "integer"},
                "ngpus": {"type": "integer"}, "free_gpus": {"type": "integer"},
                "drained": {"type": "boolean"},
                "reason": {"type": "string", "nullable": True},
                "timestamp": {"type": "number", "nullable": True}}}}}},
    "Queues": {"type": "object", "required": ["queues"], "properties": {"queues": {
        "type": "array", "items": {"type": "object", "additionalProperties": True}}}},
    "Utilization": {"type": "object", "required": ["samples"], "properties": {"samples": {
        "type": "array", "items": {"type": "object", "required": [
            "time", "cores", "cores_used", "gpus", "gpus_used"], "properties": {
            "time": {"type": "number"}, "cores": {"type": "integer"},
            "cores_used": {"type": "integer"}, "gpus": {"type": "integer"},
            "gpus_used": {"type": "integer"}}}}}},
}

_PAGE = [
    {"name": "state", "in": "query", "schema": {"type": "string"},
     "description": "States to list, e.g. 'pending,running' (as corral jobs --filter)"},
    {"name": "user", "in": "query", "schema": {"type": "string", "default": "me"},
     "description": "'me', 'all' (the instance owner) or a uid"},
    {"name": "limit", "in": "query",
     "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}},
    {"name": "offset", "in": "query",
     "schema": {"type": "integer", "minimum": 0, "maximum": 2**31, "default": 0}},
]

PATHS = {
    "/api/v1/whoami": {"get": _operation("The authenticated user", "WhoAmI")},
    "/api/v1/jobs": {
        "get": _operation("One page of jobs: pending in priority order, running, then "
                          "inactive most recent first", "JobPage", parameters=_PAGE),
        "post": _operation("Submit a job", "Submitted", "Submitted", body="Submit",
                           status="201"),
    },
    "/api/v1/jobs/{id}": {
        "get": _operation("A job", "Job", parameters=[_JOB_ID]),
        "patch": _operation("Change a job's urgency", "Updated", parameters=[_JOB_ID],
                            body="Update"),
    },
    "/api/v1/jobs/{id}/cancel": {
        "post": _operation("Cancel a job", "Canceled", parameters=[_JOB_ID], body="Cancel"),
    },
    "/api/v1/jobs/{id}/eventlog": {
        "get": _operation("A job's committed events", "Eventlog", parameters=[_JOB_ID]),
    },
    "/api/v1/jobs/{id}/eventlog/stream": {"get": {
        "summary": "A job's events as server-sent events (event: NAME, data: the event), "
                   "until it is inactive; then event: end",
        "parameters": [_JOB_ID],
        "responses": {"200": {"description": "An event stream", "content": {
            "text/event-stream": {"schema": {
                "type": "object", "required": ["event", "data"], "description": "One event",
                "properties": {"event": {"type": "string", "description": "its name"},
                               "data": {"type": "string",
                                        "description": "the event as JSON ({} for end)"}}}}}},
                      "default": _ERROR}}},
    "/api/v1/jobs/{id}/output": {
        "get": _operation("A job's standard output and error so far", "Output",
                          parameters=[_JOB_ID]),
    },
    "/api/v1/nodes": {"get": _operation("The nodes, their free cores and GPUs", "Nodes")},
    "/api/v1/queues": {"get": _operation("The queues and whether they run jobs", "Queues")},
    "/api/v1/utilization": {"get": _operation("Cores and GPUs in use, sampled every 10 s "
                                              "for the last 6 hours", "Utilization")},
}


def document() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "corral", "version": __version__,
                 "description": "The JSON API of a corral instance (corral web). Every "
                                "request acts as the authenticated user, with the roles "
                                "the instance's local socket gives them."},
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "responses": {"Error": _json("Error", "An error, in one sentence")},
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer",
                                          "description": "made by 'corral token create'"}},
        },
        "security": [{"token": []}],
    }
