"""A stand-in for an insurer's system, run as its own process by the claim tests.

    python tests/insurer_receiver.py PORT SECRET RECORD_FILE

It verifies each push with the Standard Webhooks library (signature and replay window),
keeps one line per webhook-id in RECORD_FILE and acknowledges duplicates without keeping
them, as an idempotent receiver should.
"""

import json
import sys
from pathlib import Path

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PORT, SECRET, RECORD = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])


async def receive(request: Request) -> JSONResponse:
    body = await request.body()
    try:
        claim = Webhook(SECRET).verify(body, dict(request.headers))
    except WebhookVerificationError as error:
        return JSONResponse({"error": str(error)}, status_code=401)
    message_id = request.headers["webhook-id"]
    seen = {json.loads(line)["id"] for line in RECORD.read_text().splitlines()} if RECORD.exists() else set()
    if message_id not in seen:
        with RECORD.open("a") as record:
            record.write(json.dumps({"id": message_id, "claim": claim}, ensure_ascii=False) + "\n")
    return JSONResponse({"received": message_id})


app = Starlette(routes=[Route("/claims", receive, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
