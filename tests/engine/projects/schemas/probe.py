"""Prints what each endpoint may do, using only PLATFORM_RELATIONSHIPS."""

import base64
import json
import os

import pg8000.native
import pika
import pymysql

rels = json.loads(base64.b64decode(os.environ["PLATFORM_RELATIONSHIPS"]))


def attempt(label, action):
    try:
        action()
        print(f"{label}: ok")
    except Exception as error:
        print(f"{label}: refused ({type(error).__name__})")


def mysql(name, schema):
    r = rels[name][0]
    return pymysql.connect(host=r["host"], port=r["port"], user=r["username"], password=r["password"],
                           database=schema, autocommit=True)


def run(connection, sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)


admin = mysql("admin", "analytics")
attempt("mariadb admin creates", lambda: run(admin, "CREATE TABLE IF NOT EXISTS t (v INT)"))
attempt("mariadb admin writes", lambda: run(admin, "INSERT INTO t VALUES (1)"))
reporter = mysql("reporter", "analytics")
attempt("mariadb reporter reads", lambda: run(reporter, "SELECT * FROM t"))
attempt("mariadb reporter writes", lambda: run(reporter, "INSERT INTO t VALUES (2)"))


def pg(name, database):
    r = rels[name][0]
    return pg8000.native.Connection(r["username"], host=r["host"], port=r["port"], password=r["password"],
                                    database=database)


owner = pg("owner", "reports")
attempt("postgresql owner creates", lambda: owner.run("CREATE TABLE IF NOT EXISTS t (v INT)"))
attempt("postgresql owner writes", lambda: owner.run("INSERT INTO t VALUES (1)"))
attempt("postgresql extension", lambda: owner.run("SELECT similarity('a', 'b')"))
reader = pg("reader", "reports")
attempt("postgresql reader reads", lambda: reader.run("SELECT * FROM t"))
attempt("postgresql reader writes", lambda: reader.run("INSERT INTO t VALUES (2)"))
r = rels["mq"][0]
attempt("rabbitmq vhost orders", lambda: pika.BlockingConnection(pika.ConnectionParameters(
    r["host"], r["port"], "orders", pika.PlainCredentials(r["username"], r["password"]))).close())
