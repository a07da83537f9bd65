"""The API fuzzed from its own OpenAPI document (schemathesis): whatever a client sends,
no server error and no answer the document does not describe."""

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from corral.web import openapi

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]

#: Requests per operation: about 200 in all, a few seconds.
EXAMPLES = 15


def test_fuzzed_requests_get_documented_answers(instance, make_web, owner_token):
    instance.corral("queue", "stop")  # a fuzzed submission that is valid must not run
    pending = instance.submit("true")
    ended = instance.submit("true")  # jobs to find, in two states
    instance.corral("cancel", ended)
    instance.wait_inactive(ended)
    web = make_web(instance)
    headers = {"Authorization": f"Bearer {owner_token(instance)}"}
    schema = schemathesis.openapi.from_dict(openapi.document())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(methods) for methods in openapi.PATHS.values())
    for operation in operations:
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case):
            job_id = (case.path_parameters or {}).get("id")
            if job_id is not None and job_id % 3 == 0:
                case.path_parameters["id"] = pending if job_id % 2 else ended
            if case.path.endswith("/eventlog/stream") and case.path_parameters["id"] == pending:
                return  # its stream ends only when the job does (the queue is stopped)
            case.call_and_validate(base_url=web.url.rstrip("/"), headers=headers,
                                   checks=CHECKS)

        call()
