"""Writes one note per round to every service; stops cleanly on SIGTERM."""

import signal
import sys
import time

import services

stopping = False


def stop(signum, frame):
    global stopping
    stopping = True
    print("writer: got SIGTERM", flush=True)


signal.signal(signal.SIGTERM, stop)
db = services.mariadb()
with db.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(200))")
pg = services.postgresql()
pg.run("CREATE TABLE IF NOT EXISTS notes (id SERIAL PRIMARY KEY, body TEXT)")
cache = services.redis_client()
channel = services.rabbitmq_channel()
number = 0
while not stopping:
    number += 1
    body = f"note {number} from the writer"
    with db.cursor() as cursor:
        cursor.execute("INSERT INTO notes (body) VALUES (%s)", (body,))
    pg.run("INSERT INTO notes (body) VALUES (:body)", body=body)
    cache.set("latest-note", body)
    channel.basic_publish(exchange="", routing_key="notes", body=body.encode())
    print(f"writer: wrote {body}", flush=True)
    time.sleep(2)
sys.exit(0)
