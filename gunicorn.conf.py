"""gunicorn settings for the gateway (`gunicorn -c gunicorn.conf.py "app:create_app()"`)."""

import os
import sys

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
# Chosen by measurement on 2 cores (docs/performance.md): one process per core, and threads because a payment
# spends most of its time waiting on PostgreSQL and the microservice. 2×8 beat 2×4, 4×2, 3×4 and 4×4 at
# concurrency 8 and matched them at 32; more processes only add connections and memory.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_class = "gthread"
timeout = 130  # longer than the largest service timeout (120 s) so a slow call ends as 504, not a killed worker
graceful_timeout = 30
accesslog = "-"
# Never log query strings or bodies here: the API log table holds the masked copy.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
# Callback URLs carry a bearer token in the path: this logger writes /api/v1/callbacks/**** instead.
logger_class = "gateway.access_log.MaskedAccessLogger"


def worker_int(worker) -> None:  # noqa: ANN001 - gunicorn's hook signature
    """Quick shutdown (SIGINT, SIGQUIT) means now. gthread's request threads are not daemons: without this the
    worker's exit waits for each of them (a slow service call, a client that sent half a request) and only
    graceful_timeout's SIGKILL ends it. SIGTERM keeps gunicorn's graceful stop for deployments."""
    worker.log.info("worker %s quick shutdown", worker.pid)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)
