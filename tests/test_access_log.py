"""The server's access log names the path of each request, never its query: a party's position
(service status), a searched phone or plate would otherwise stay in logs kept for years."""

import logging

from kuaichu.cli import server_log_config


def _access_line(full_path: str) -> str:
    config = server_log_config()
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", full_path, "1.1", 200),
        None,
    )
    for name in config["handlers"]["access"]["filters"]:
        config["filters"][name]["()"]().filter(record)
    return record.getMessage()


def test_the_access_log_keeps_the_path_and_drops_the_query() -> None:
    line = _access_line("/api/calls/service-status?lat=30.26&lng=120.1")
    assert line == '127.0.0.1:5000 - "GET /api/calls/service-status HTTP/1.1" 200'


def test_a_path_without_a_query_is_logged_as_it_was() -> None:
    assert _access_line("/api/cases/7") == '127.0.0.1:5000 - "GET /api/cases/7 HTTP/1.1" 200'
