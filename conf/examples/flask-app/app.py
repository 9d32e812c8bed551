"""The procsup demo service: a small Flask app served by gunicorn.

GET /        -> {"service": "flask-app", "pid": <worker pid>, "uptime_s": ...}
GET /health  -> {"status": "ok"}   (the HTTP health check procsup polls)
"""
import os
import time

from flask import Flask, jsonify

app = Flask(__name__)
STARTED = time.monotonic()


@app.get("/")
def index():
    return jsonify(service="flask-app", pid=os.getpid(),
                   uptime_s=round(time.monotonic() - STARTED, 3))


@app.get("/health")
def health():
    return jsonify(status="ok")
