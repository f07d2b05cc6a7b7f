"""Reads back what the writer wrote to each service and serves it as JSON on $PORT."""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import services

lock = threading.Lock()
last_message = {"body": None}


def read_all() -> dict:
    result = {}
    db = services.mariadb()
    with db.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), MAX(body) FROM notes")
        count, _ = cursor.fetchone()
        cursor.execute("SELECT body FROM notes ORDER BY id DESC LIMIT 1")
        row = cursor.fetchone()
    result["mariadb"] = {"rows": count, "latest": row[0] if row else None}
    pg = services.postgresql()
    rows = pg.run("SELECT COUNT(*), (SELECT body FROM notes ORDER BY id DESC LIMIT 1) FROM notes")
    result["postgresql"] = {"rows": rows[0][0], "latest": rows[0][1]}
    value = services.redis_client().get("latest-note")
    result["redis"] = value.decode() if value else None
    channel = services.rabbitmq_channel()
    method, _, body = channel.basic_get(queue="notes", auto_ack=True)
    with lock:
        if body:
            last_message["body"] = body.decode()
        result["rabbitmq"] = last_message["body"]
    channel.connection.close()
    return result


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        try:
            body, status = json.dumps(read_all()).encode(), 200
        except Exception as error:  # a service not ready yet: say so
            body, status = json.dumps({"error": str(error)}).encode(), 503
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
