"""Connections built from PLATFORM_RELATIONSHIPS alone, as an app on the platform would."""

import base64
import json
import os
import time


def relationship(name: str) -> dict:
    return json.loads(base64.b64decode(os.environ["PLATFORM_RELATIONSHIPS"]))[name][0]


def retry(connect, attempts: int = 60):
    for attempt in range(attempts):
        try:
            return connect()
        except Exception as error:  # the service may still be starting
            last = error
            time.sleep(1)
    raise last


def mariadb():
    import pymysql
    r = relationship("database")
    return retry(lambda: pymysql.connect(host=r["host"], port=r["port"], user=r["username"], password=r["password"],
                                         database=r["path"], autocommit=True))


def postgresql():
    import pg8000.native
    r = relationship("pg")
    return retry(lambda: pg8000.native.Connection(r["username"], host=r["host"], port=r["port"],
                                                  password=r["password"], database=r["path"]))


def redis_client():
    import redis
    r = relationship("cache")
    return redis.Redis(host=r["host"], port=r["port"])


def rabbitmq_channel():
    import pika
    r = relationship("queue")
    credentials = pika.PlainCredentials(r["username"], r["password"])
    connection = retry(lambda: pika.BlockingConnection(pika.ConnectionParameters(r["host"], r["port"], "/", credentials)))
    channel = connection.channel()
    channel.queue_declare(queue="notes", durable=True)
    return channel
